from .lvis_format import LVISFormatDataset
from .openimages import CheckedOpenImagesDataset

__all__ = ['LVISFormatDataset', 'CheckedOpenImagesDataset']
