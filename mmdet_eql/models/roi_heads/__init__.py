from .bbox_heads import *  # noqa: F401,F403
from .freq_aware_cascade_roi_head import FreqAwareCascadeRoIHead, stage_scores  # noqa: F401
