"""mmdet-eql: equalization losses for long-tailed detection, as an MMDetection 3.x plugin.

Importing the package applies the documented compatibility fixes (:mod:`mmdet_eql.compat`) and
registers every component into mmdet's registries.
"""
from . import compat  # noqa: F401  (first: fixes upstream incompatibilities)
from . import classification, datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

compat.enable_cpu_distributed()  # after the registries: it needs mmdet_eql.engine

__all__ = ['__version__']
