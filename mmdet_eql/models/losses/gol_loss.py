"""Gumbel optimised loss (GOL; Alexandridis et al., ECCV 2022) for the RoI classifier.

Shapes: N = RoIs, C = foreground classes; like EQL's, the classifier has C outputs (no
background logit). Label C means background.

The Gumbel activation replaces the sigmoid: p = exp(-exp(-z)) (the Gumbel distribution's CDF),
in training and at test time. As the authors train it, the logit is clamped to [-4, 10] before
the activation (no gradient outside), the binary cross-entropy is

    BCE(z, y) = y exp(-z) - (1 - y) log(1 - exp(-exp(-z))),

and in their simplified function the per-element loss is clamped to [0, 20] (``max_loss``;
their drop-loss variant, the LVIS v1 recipe, has no such clamp: ``max_loss=None``).

Their LVIS v1 models train it with DropLoss (Hsieh et al., AAAI 2021), set by ``drop_lambda``:
for a foreground RoI the negative terms of the classes with frequency f_j < lambda are dropped
(as EQL); for a background RoI each such term is dropped unless its own uniform draw u_ij <= r,
r the share of this call's foreground RoIs whose class has f_j < lambda (no foreground RoI:
nothing dropped).
"""
import math
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from mmdet_eql.utils.class_frequency import ClassFrequency, check_num_classes, resolve_class_freq
from .eql_loss import log_protection
from .utils import CWideSigmoidHeadMixin, check_finite_and_labels, check_loss_args, roi_accuracy


def gumbel_bce(logits: Tensor, target: Tensor) -> Tensor:
    """Element-wise binary cross-entropy of p = exp(-exp(-z)), finite for z >= -80 in float32
    (exp(80) is below float32's max; the loss clamps the logits first).

    -log p = u with u = exp(-z); -log(1 - p) = -log(-expm1(-u)), which for large z (u below
    1e-3, where 1 - p would round) is z - log(1 - u/2 + u^2/6 - u^3/24).
    """
    u = torch.exp(-logits)
    # log(1 - p): log(-expm1(-u)) where u is not tiny; -z + log(1 - u/2 + u^2/6 - u^3/24)
    # otherwise. Each branch sees only its own values, so neither gives NaN to the gradient.
    small = u < 1e-3
    u_small = torch.where(small, u, torch.zeros_like(u))
    u_large = torch.where(small, torch.ones_like(u), u)
    series = torch.log1p(u_small * (-0.5 + u_small * (1 / 6 - u_small / 24)))
    log_not_p = torch.where(small, -logits + series, torch.log(-torch.expm1(-u_large)))
    return target * u - (1 - target) * log_not_p


def gumbel_probability(logits: Tensor) -> Tensor:
    """exp(-exp(-z)); 0 for very negative z, 1 for very positive z, never NaN."""
    return torch.exp(-torch.exp(-logits))


def drop_weights(labels: Tensor, protected: Tensor, rand: Tensor) -> Tensor:
    """(N, C) DropLoss weights: 0 on the dropped negative terms, 1 elsewhere.

    Args:
        labels (Tensor): (N,) labels in [0, C]; C is background.
        protected (Tensor): (C,) bool, the classes whose negatives may be dropped (f_j < lambda).
        rand (Tensor): (N, C) uniform draws in [0, 1), one a term as the authors draw them; used
            by background RoIs only.
    """
    num_classes = protected.numel()
    fg = labels < num_classes
    if fg.any():
        ratio = protected[labels[fg]].float().mean()
        drop = fg[:, None] | ((~fg)[:, None] & (rand > ratio))
    else:  # no foreground RoI: the authors' ratio is NaN and no background term drops
        drop = torch.zeros_like(rand, dtype=torch.bool)
    target = F.one_hot(labels, num_classes + 1)[:, :num_classes].bool()
    dropped = drop & protected[None, :] & ~target
    return (~dropped).float()


@MODELS.register_module()
class GumbelOptimizedLoss(CWideSigmoidHeadMixin, nn.Module):
    """The Gumbel optimised loss: binary cross-entropy of the Gumbel activation exp(-exp(-z))
    over the C class logits (Alexandridis et al., ECCV 2022, arXiv:2207.10936), optionally with
    DropLoss (module docstring).

    Differences from the authors' code, on purpose: the cross-entropy is written in closed form
    (their ``F.binary_cross_entropy`` of the probability clips log at -100; inside the clamp
    range the two agree); per-RoI weights, ``avg_factor`` and reduction follow mmdet (in the RoI
    head: their sum divided by the RoI count); logits in float16 / bfloat16 are computed in
    float32; the frequencies come from ``class_freq``, not a file of their repository.

    Args:
        num_classes (int): C, the number of foreground classes.
        class_freq (str | Sequence[float] | ClassFrequency, optional): the class frequencies
            (preset, JSON made by tools/analysis_tools/class_frequency.py, or C floats); needed
            with ``drop_lambda`` only (a frequency-aware bbox head writes its own).
        drop_lambda (float, optional): DropLoss's frequency threshold (the authors' LVIS v1:
            0.0011); None: plain Gumbel cross-entropy on every term.
        clamp (tuple[float, float]): the logit range before the activation (the authors':
            (-4, 10)); the low end at least -80.
        max_loss (float, optional): upper clamp of each element's loss (their simplified
            function: 20; their drop-loss code: None).
        use_sigmoid (bool): accepted for configs derived from CrossEntropyLoss; must be True.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside [0, C] and on NaN or infinite scores.
    """

    def __init__(self,
                 num_classes: int,
                 class_freq: Optional[Union[str, Sequence[float], ClassFrequency]] = None,
                 drop_lambda: Optional[float] = None,
                 clamp: Sequence[float] = (-4.0, 10.0),
                 max_loss: Optional[float] = 20.0,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True) -> None:
        super().__init__()
        extra = {} if drop_lambda is None else dict(drop_lambda=drop_lambda)
        if max_loss is not None:
            extra['max_loss'] = max_loss
        check_loss_args('GumbelOptimizedLoss', num_classes, use_sigmoid, reduction, **extra)
        if not (isinstance(clamp, (tuple, list)) and len(clamp) == 2
                and -80 <= float(clamp[0]) < float(clamp[1])):
            raise ValueError('GumbelOptimizedLoss: clamp must be (low, high) with -80 <= low < '
                             "high (the authors': (-4, 10); below -80, exp(-z) overflows "
                             f'float32), got {clamp!r}')
        clamp = (float(clamp[0]), float(clamp[1]))
        self.num_classes = num_classes
        self.drop_lambda = None if drop_lambda is None else float(drop_lambda)
        self.clamp = clamp
        self.max_loss = None if max_loss is None else float(max_loss)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        self.use_sigmoid = True
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True
        self.register_buffer(
            'protected', torch.zeros(num_classes, dtype=torch.bool), persistent=False)
        self.class_freq: Optional[ClassFrequency] = None
        if self.drop_lambda is not None:
            if class_freq is None:
                raise ValueError(
                    'GumbelOptimizedLoss with drop_lambda needs class frequencies: set '
                    "class_freq=... on the loss (a preset such as 'lvis_v1', a JSON made by "
                    'tools/analysis_tools/class_frequency.py, or C floats), or use it inside a '
                    "frequency-aware bbox head (type='FreqAwareShared2FCBBoxHead', "
                    'class_freq=...)')
            self.set_class_freq(class_freq)
        #: the (N, C) DropLoss weights of the last call (for diagnostics and tests)
        self.last_drop_weights: Optional[Tensor] = None

    def set_class_freq(self, class_freq: Union[str, Sequence[float], ClassFrequency]) -> None:
        cf = resolve_class_freq(class_freq)
        check_num_classes(cf, self.num_classes, who='GumbelOptimizedLoss')
        self.class_freq = cf
        if self.drop_lambda is None:
            return
        self.protected.copy_(torch.from_numpy(cf.protected(self.drop_lambda)))
        log_protection(
            'GumbelOptimizedLoss with DropLoss',
            cf,
            self.drop_lambda,
            unprotected='DropLoss drops nothing (plain Gumbel cross-entropy)')

    @staticmethod
    def prior_logit(prior_prob: float) -> float:
        """The logit whose Gumbel probability is ``prior_prob``: -log(-log p) (the
        frequency-aware head's prior initialisation; p = 0.001 gives -1.93, near the authors'
        bias of -2)."""
        return -math.log(-math.log(prior_prob))

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C) logits -> (N, C + 1) scores: exp(-exp(-z)), then a zero background column."""
        scores = gumbel_probability(cls_score.float())
        return torch.cat([scores, scores.new_zeros(scores.size(0), 1)], dim=1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """Accuracy (%) of argmax-over-classes on foreground RoIs, and of max_j p_j >= 0.5 (z >=
        -log(log 2)) as the foreground decision over all RoIs."""
        is_fg = gumbel_probability(cls_score.detach().float()).max(1).values >= 0.5
        return roi_accuracy(cls_score, is_fg, labels)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Computes the loss.

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
        C = self.num_classes
        if cls_score.dim() != 2 or cls_score.size(1) != C:
            raise ValueError(f'GumbelOptimizedLoss expects cls_score of shape (N, {C}) (no '
                             f'background logit), got {tuple(cls_score.shape)}')
        if label.shape != cls_score.shape[:1]:
            raise ValueError(f'GumbelOptimizedLoss expects labels of shape ({cls_score.size(0)},),'
                             f' got {tuple(label.shape)}')
        label = label.long()
        if self.check_inputs:
            check_finite_and_labels('GumbelOptimizedLoss', cls_score, label, C)
        logits = cls_score if cls_score.dtype == torch.float64 else cls_score.float()
        logits = logits.clamp(min=self.clamp[0], max=self.clamp[1])
        target = F.one_hot(label, C + 1)[:, :C].to(logits.dtype)
        elem = gumbel_bce(logits, target)
        if self.max_loss is not None:
            elem = elem.clamp(min=0, max=self.max_loss)
        if self.drop_lambda is not None:
            rand = torch.rand(elem.shape, device=logits.device)
            drop_w = drop_weights(label, self.protected, rand)
            self.last_drop_weights = drop_w
            elem = elem * drop_w
        loss = elem.sum(1)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, drop_lambda={self.drop_lambda}, '
                f'clamp={self.clamp}, max_loss={self.max_loss}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
