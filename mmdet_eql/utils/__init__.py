from .class_frequency import (PRESETS, ClassFrequency, count_categories, frequency_group,
                              load_class_freq_file, load_preset, resolve_class_freq)
from .io import ToolError, load_json, sha256_files, tool_main, write_json
from .paths import REPO_ROOT, repo_path

__all__ = [
    'PRESETS', 'ClassFrequency', 'count_categories', 'frequency_group', 'load_class_freq_file',
    'load_preset', 'resolve_class_freq', 'ToolError', 'load_json', 'sha256_files', 'tool_main',
    'write_json', 'REPO_ROOT', 'repo_path'
]
