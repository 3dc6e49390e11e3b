from .class_freq_check_hook import ClassFreqCheckHook
from .grad_ratio_monitor_hook import GradientAccumulator, GradientRatioMonitorHook, ratio_report
from .rng_state_hook import RNGStateHook

__all__ = [
    'ClassFreqCheckHook', 'GradientRatioMonitorHook', 'GradientAccumulator', 'ratio_report',
    'RNGStateHook'
]
