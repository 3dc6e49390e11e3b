"""Federated loss (Zhou et al., "Probabilistic two-stage detection", 2021; CenterNet2, Detic) for
the RoI classifier.

Shapes: N = RoIs in the batch, C = foreground classes; label C means background. Like EQL's, the
classifier has C sigmoid outputs (no background logit).

Each call draws a class set S: the classes present among the labels, topped up by classes drawn
without replacement with weights ``image_count ** freq_weight_power`` (background never drawn),
and the sigmoid cross-entropy is summed over S only:

    L_i = sum_{j in S} BCE(z_ij, y_ij)

As in the authors' code, the background label counts among the present labels when the batch has
background RoIs, so the set holds ``num_sample_cats - 1`` foreground classes then (all present
classes if there are more).
"""
import logging
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor

from mmdet_eql.utils.class_frequency import ClassFrequency, check_num_classes, resolve_class_freq
from .utils import CWideSigmoidHeadMixin, check_finite_and_labels, check_loss_args


def sampling_weights(cf: ClassFrequency, power: float) -> np.ndarray:
    """(C,) float64 weights of the classes drawn to top up the set: ``image_count ** power``
    (the authors' ``load_class_freq``); from frequencies alone (a bare list) ``freq ** power``,
    the same weights up to a constant factor, so the same draws."""
    counts = cf.image_counts if cf.image_counts is not None else cf.freq
    return np.asarray(counts, dtype=np.float64)**power


def sample_classes(labels: Tensor,
                   weights: Tensor,
                   num_sample_cats: int,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """The class set of one call, as a (C,) bool mask.

    Args:
        labels (Tensor): (N,) labels in [0, C]; C is background.
        weights (Tensor): (C,) non-negative sampling weights of the foreground classes.
        num_sample_cats (int): the set's size, counting the background label when present.
        generator: torch generator of the draws (default: torch's global one on ``weights``'s
            device, which RNGStateHook saves and restores).

    Returns:
        Tensor: (C,) bool, True for the present foreground classes and the drawn ones.
    """
    num_classes = weights.numel()
    present = torch.unique(labels)
    mask = torch.zeros(num_classes + 1, dtype=torch.bool, device=weights.device)
    mask[present] = True
    need = num_sample_cats - present.numel()
    if need > 0:
        prob = torch.cat([weights.float(), weights.new_zeros(1, dtype=torch.float)])
        prob[present] = 0
        # a set larger than the classes that can be drawn takes them all (the authors' code
        # would fail in torch.multinomial)
        need = min(need, int((prob > 0).sum()))
        if need > 0:
            drawn = torch.multinomial(prob, need, replacement=False, generator=generator)
            mask[drawn] = True
    return mask[:num_classes]


@MODELS.register_module()
class FederatedLoss(CWideSigmoidHeadMixin, nn.Module):
    """Federated loss: sigmoid cross-entropy over the classes present in the batch plus classes
    drawn by the square root of their image counts (Zhou et al. 2021).

    Args:
        num_classes (int): C, the number of foreground classes.
        class_freq (str | Sequence[float] | ClassFrequency): a preset ('lvis_v1', 'lvis_v0.5'),
            a JSON made by tools/analysis_tools/class_frequency.py (both carry image counts), or
            C floats (frequencies: the same weights up to scale); required (a frequency-aware
            bbox head writes its own ``class_freq`` into its loss config).
        num_sample_cats (int): size of the class set, background label included when present
            (the authors' LVIS value: 50).
        freq_weight_power (float): exponent of the image counts in the sampling weights (the
            authors': 0.5).
        use_sigmoid (bool): must be True (accepted for configs derived from CrossEntropyLoss).
        reduction (str): 'none', 'mean' or 'sum' (mmdet semantics with weights and avg_factor).
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside [0, C] and on NaN or infinite scores.
    """

    def __init__(self,
                 num_classes: int,
                 class_freq: Optional[Union[str, Sequence[float], ClassFrequency]] = None,
                 num_sample_cats: int = 50,
                 freq_weight_power: float = 0.5,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True) -> None:
        super().__init__()
        check_loss_args(
            'FederatedLoss',
            num_classes,
            use_sigmoid,
            reduction,
            freq_weight_power=freq_weight_power)
        if isinstance(num_sample_cats,
                      bool) or not isinstance(num_sample_cats, int) or num_sample_cats < 1:
            raise ValueError('FederatedLoss: num_sample_cats must be a positive int, got '
                             f'{num_sample_cats!r}')
        self.num_classes = num_classes
        self.num_sample_cats = num_sample_cats
        self.freq_weight_power = float(freq_weight_power)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        self.use_sigmoid = True
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True
        self.register_buffer(
            'sample_weights', torch.zeros(num_classes, dtype=torch.float64), persistent=False)
        self.class_freq: Optional[ClassFrequency] = None
        if class_freq is None:
            raise ValueError(
                'FederatedLoss built without class frequencies: set class_freq=... on the loss '
                "(a preset such as 'lvis_v1', a JSON made by "
                'tools/analysis_tools/class_frequency.py, or C floats), or use it inside a '
                "frequency-aware bbox head (type='FreqAwareShared2FCBBoxHead', class_freq=...)")
        self.set_class_freq(class_freq)
        #: the (C,) mask of the last call's class set (for diagnostics and tests)
        self.last_classes: Optional[Tensor] = None

    def set_class_freq(self, class_freq: Union[str, Sequence[float], ClassFrequency]) -> None:
        cf = resolve_class_freq(class_freq)
        check_num_classes(cf, self.num_classes, who='FederatedLoss')
        weights = torch.from_numpy(sampling_weights(cf, self.freq_weight_power))
        if not (weights > 0).any():
            raise ValueError(f'FederatedLoss: every class of {cf.source} has weight 0 (no image '
                             'counts): no class could be drawn')
        self.sample_weights.copy_(weights.to(self.sample_weights.device))
        self.class_freq = cf
        source = 'image counts' if cf.image_counts is not None else 'frequencies'
        if self.num_sample_cats >= self.num_classes:
            print_log(
                f'FederatedLoss: num_sample_cats={self.num_sample_cats} is not below the '
                f'{self.num_classes} classes: every call\'s set holds every class (all but one '
                'when a background RoI takes a place), so the loss is plain sigmoid cross-entropy. '
                'The authors\' 50 is for LVIS\'s 1203 classes (4 %); set num_sample_cats well '
                'below the class count',
                logger='current',
                level=logging.WARNING)
            return
        print_log(
            f'FederatedLoss: {self.num_sample_cats} classes a call (present ones first), the '
            f'rest drawn by {source} ** {self.freq_weight_power:g} from {cf.source}',
            logger='current')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Computes the loss over this call's class set.

        Args:
            cls_score (Tensor): (N, C) logits.
            label (Tensor): (N,) labels in [0, C]; C is background.
            weight (Tensor, optional): (N,) per-RoI weights (mmdet's label_weights).
            avg_factor (float, optional): normaliser of the summed loss for 'mean'.
            reduction_override (str, optional): 'none', 'mean' or 'sum'.

        Returns:
            Tensor: a scalar, or (N,) with reduction 'none'.
        """
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        if cls_score.dim() != 2 or cls_score.size(1) != self.num_classes:
            raise ValueError(f'FederatedLoss expects cls_score of shape (N, {self.num_classes}) '
                             f'(no background logit), got {tuple(cls_score.shape)}')
        if label.shape != cls_score.shape[:1]:
            raise ValueError(f'FederatedLoss expects labels of shape ({cls_score.size(0)},), got '
                             f'{tuple(label.shape)}')
        label = label.long()
        if self.check_inputs:
            check_finite_and_labels('FederatedLoss', cls_score, label, self.num_classes)
        classes = sample_classes(label, self.sample_weights, self.num_sample_cats)
        self.last_classes = classes
        logits = cls_score.float() if cls_score.dtype in (torch.float16,
                                                          torch.bfloat16) else cls_score
        target = F.one_hot(label, self.num_classes + 1)[:, :self.num_classes].to(logits.dtype)
        per_class = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
        loss = (per_class * classes.to(logits.dtype)).sum(1)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, num_sample_cats={self.num_sample_cats}, '
                f'freq_weight_power={self.freq_weight_power}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
