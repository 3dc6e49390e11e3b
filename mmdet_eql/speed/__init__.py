"""Speed and memory measurements behind ``tools/speed/`` (the loss, one EQL training step, the
LVIS evaluator, AP-fixed, the class-frequency tool, an LVIS training): each prints its measured
figures; none of them is a test."""
