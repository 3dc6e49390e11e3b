from .class_frequency import (PRESETS, ClassFrequency, count_categories, frequency_group,
                              load_class_freq_file, load_preset, resolve_class_freq)

__all__ = [
    'PRESETS', 'ClassFrequency', 'count_categories', 'frequency_group', 'load_class_freq_file',
    'load_preset', 'resolve_class_freq'
]
