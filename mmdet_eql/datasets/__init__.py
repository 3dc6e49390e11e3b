from .lvis_format import LVISFormatDataset

__all__ = ['LVISFormatDataset']
