"""Analyses behind ``tools/analysis_tools/``: class frequencies of an annotation file, the fast
LVIS evaluation of a results file, the EQL premise read from a gradient-ratio report, and where a
run's false positives go."""
