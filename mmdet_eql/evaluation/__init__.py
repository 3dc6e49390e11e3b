from .lvis_eval import (POOLED_KEYS, PROTOCOLS, empty_results_note, group_coverage, lvis_eval,
                        lvis_eval_lvisapi, match_class_freq, summary_keys, summary_table,
                        with_groups)
from .metrics import FastLVISMetric

__all__ = [
    'FastLVISMetric', 'lvis_eval', 'lvis_eval_lvisapi', 'summary_table', 'summary_keys',
    'PROTOCOLS', 'POOLED_KEYS', 'with_groups', 'match_class_freq', 'group_coverage',
    'empty_results_note'
]
