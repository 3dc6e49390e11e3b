from .class_frequency import (PRESETS, ClassFrequency, count_categories, frequency_group,
                              load_class_freq_file, load_preset, resolve_class_freq)
from .lvis_format import LVISFormatDataset

__all__ = [
    'LVISFormatDataset', 'PRESETS', 'ClassFrequency', 'count_categories', 'frequency_group',
    'load_class_freq_file', 'load_preset', 'resolve_class_freq'
]
