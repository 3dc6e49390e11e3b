"""Long-tailed image classification on mmengine's Runner, for the losses that the EQL paper also
measures on classification (the softmax EQL): a CIFAR-style ResNet, a classifier whose loss is any
of mmdet's registered losses, datasets (the embedded long-tailed set made by
tools/benchmark/make_cls_dataset.py; CIFAR-100-LT drawn from CIFAR-100's own files) and a
top-1 metric split into many / medium / few-shot classes as ImageNet-LT reports it.

Registered in mmdet's registries, so that a config with ``default_scope = 'mmdet'`` runs through
``tools/train.py`` and ``tools/test.py`` like a detection config. mmpretrain users register the
project's losses in mmpretrain's registry with
``custom_imports=dict(imports=['mmdet_eql.mmpretrain'])``.
"""
from .datasets import CIFAR100LTDataset, LongTailClsDataset, long_tail_counts
from .metric import LongTailAccuracy, shot_groups
from .model import CifarResNet, LongTailClassifier, LongTailClsPreprocessor

__all__ = [
    'CIFAR100LTDataset', 'LongTailClsDataset', 'long_tail_counts', 'LongTailAccuracy',
    'shot_groups', 'CifarResNet', 'LongTailClassifier', 'LongTailClsPreprocessor'
]
