from .compact_dump import CompactDumpDetResults
from .fast_lvis_metric import FastLVISMetric
from .openimages_group_metric import OpenImagesGroupMetric

__all__ = ['CompactDumpDetResults', 'FastLVISMetric', 'OpenImagesGroupMetric']
