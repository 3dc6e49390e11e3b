from .freq_aware_bbox_head import FreqAwareShared2FCBBoxHead

__all__ = ['FreqAwareShared2FCBBoxHead']
