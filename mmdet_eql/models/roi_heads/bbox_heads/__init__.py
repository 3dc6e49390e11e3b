from .freq_aware_bbox_head import (FreqAwareBBoxHead, FreqAwareMixin, FreqAwareShared2FCBBoxHead,
                                   FreqAwareShared4Conv1FCBBoxHead)

__all__ = [
    'FreqAwareMixin', 'FreqAwareShared2FCBBoxHead', 'FreqAwareBBoxHead',
    'FreqAwareShared4Conv1FCBBoxHead'
]
