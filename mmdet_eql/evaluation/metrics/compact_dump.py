"""``CompactDumpDetResults``: mmdet's ``DumpDetResults`` whose pickle holds only the predictions.

On the CPU the kept detections are views into the (RoIs x classes) tensors they were selected
from (mmengine's ``_to_cpu`` is a no-op there), and pickling a view writes its whole storage:
about 37 MB per image for a 1203-class Mask R-CNN, hundreds of GB for LVIS val. Each tensor is
copied into storage of its own size before it is kept.
"""
from typing import Any, Sequence

import torch
from mmdet.evaluation import DumpDetResults
from mmdet.registry import METRICS


def compact(data: Any) -> Any:
    """``data`` with every tensor (in dicts, lists, tuples) copied to fresh, compact storage."""
    if isinstance(data, torch.Tensor):
        return data.clone(memory_format=torch.contiguous_format)
    if isinstance(data, dict):
        return {k: compact(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(compact(v) for v in data)
    return data


@METRICS.register_module()
class CompactDumpDetResults(DumpDetResults):
    """Dumps model predictions to a pickle file (``out_file_path``, .pkl) for offline
    evaluation, as mmdet's ``DumpDetResults`` does (masks as RLE), each tensor in storage of its
    own size. ``tools/test.py --out`` uses it."""

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        self.results[start:] = [compact(r) for r in self.results[start:]]


__all__ = ['CompactDumpDetResults', 'compact']
