from .lvis_eval import lvis_eval, lvis_eval_reference, summary_table
from .metrics import FastLVISMetric

__all__ = ['FastLVISMetric', 'lvis_eval', 'lvis_eval_reference', 'summary_table']
