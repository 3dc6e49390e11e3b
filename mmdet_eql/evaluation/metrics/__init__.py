from .compact_dump import CompactDumpDetResults
from .fast_lvis_metric import FastLVISMetric

__all__ = ['CompactDumpDetResults', 'FastLVISMetric']
