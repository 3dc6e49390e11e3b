"""Registers the project's classification losses in mmpretrain's registry, for mmpretrain users:
``custom_imports = dict(imports=['mmdet_eql.mmpretrain'])`` in an mmpretrain config, then
``loss=dict(type='SoftmaxEQLLoss', num_classes=..., lambda_=..., gamma=..., class_freq=...)`` in
its head. mmpretrain's heads call the loss as ``loss(cls_score, target, avg_factor=N)`` with (N,)
integer targets, which SoftmaxEQLLoss takes (its classification layout, (N, C) logits).

mmpretrain 1.2.0 imports torchvision; where torchvision cannot load (the registry's CUDA build
of it on a CPU-only machine), this module fails at import with that error."""
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmdet_eql.models.losses import SoftmaxEQLLoss

MMPRETRAIN_MODELS.register_module(module=SoftmaxEQLLoss, force=True)
