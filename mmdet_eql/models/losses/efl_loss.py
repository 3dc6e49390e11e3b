"""Equalized Focal Loss (EFL) for one-stage detectors with sigmoid classification heads.

Shapes: N = anchors / points in the batch, C = foreground classes; label C means background.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from .grad_stats import GradientStatistics, split_by_label
from .utils import check_finite_and_labels, check_loss_args


def efl_focusing_factors(ratio: Tensor, gamma_b: float, scale_factor: float) -> Tensor:
    """(C,) gamma_j = gamma_b + s (1 - g_j), with g_j clamped to [0, 1]."""
    return gamma_b + scale_factor * (1 - ratio.clamp(0, 1))


def efl_grad_magnitude(p_t: Tensor, gamma: Tensor, factor: Tensor) -> Tensor:
    """|dL/dz| of one focal term L = factor (1 - p_t)^gamma (-log p_t), p_t = s(+-z):

        |dL/dz| = factor (1 - p_t)^gamma [gamma p_t (-log p_t) + (1 - p_t)]

    (both parts of the derivative have the same sign), computed without autograd."""
    q = 1 - p_t
    return factor * q.pow(gamma) * (gamma * p_t * -torch.log(p_t.clamp(min=1e-30)) + q)


def _labels(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(N,) int64 labels from (N,) labels or an (N, C) one-hot target (all zeros: background)."""
    if target.dim() == 2:  # one-hot (N, C): back to labels
        if target.shape != pred.shape:
            raise ValueError(f'EqualizedFocalLoss: one-hot target of shape '
                             f'{tuple(target.shape)} does not match pred {tuple(pred.shape)}')
        has = target.sum(1) > 0
        target = torch.where(has, target.argmax(1),
                             torch.full_like(has, num_classes, dtype=torch.long))
    target = target.long()
    if target.shape != pred.shape[:1]:
        raise ValueError(f'EqualizedFocalLoss expects labels of shape ({pred.size(0)},), got '
                         f'{tuple(target.shape)}')
    return target


def _sample_weight(weight: Optional[Tensor], loss: Tensor) -> Optional[Tensor]:
    """(N,) or (N, C) sample weights as float (N, 1) or (N, C), checked against the loss."""
    if weight is None:
        return None
    weight = weight.float()
    if weight.dim() == 1:
        weight = weight[:, None]
    if weight.size(0) != loss.size(0) or weight.size(1) not in (1, loss.size(1)):
        raise ValueError(f'EqualizedFocalLoss: weight of shape {tuple(weight.shape)} '
                         f'does not fit pred {tuple(loss.shape)}')
    return weight


def _reduction_scale(reduction: str, avg_factor, numel: int):
    """d(reduced loss) / d(element loss) of mmdet's ``weight_reduce_loss`` (a float, or a tensor
    when avg_factor is one); 'none' counts as a sum (the caller's reduction is unknown)."""
    if reduction == 'mean':
        if avg_factor is None:
            return 1.0 / max(numel, 1)
        return 1.0 / (avg_factor + torch.finfo(torch.float32).eps)  # as mmdet divides
    return 1.0


@MODELS.register_module()
class EqualizedFocalLoss(nn.Module):
    """Equalized Focal Loss, Li et al., CVPR 2022 (https://arxiv.org/abs/2201.02593).

    A sigmoid focal loss whose focusing factor depends on the class:

        L = sum_j alpha_t (gamma_j / gamma_b) (1 - p_t)^gamma_j BCE(z_j, y_j),
        gamma_j = gamma_b + s (1 - g_j),

    with g_j the accumulated positive/negative gradient ratio of class j clamped to [0, 1]
    (statistics of the iterations before this one; 1 before the first, which makes it the focal
    loss). Rare classes (small g_j) get a larger focusing factor, which down-weights their many
    easy negatives, and the factor gamma_j / gamma_b re-balances their loss.

    What is accumulated, as the authors do (they read it with a backward hook on the classifier
    output): the magnitude of the gradient of the *returned* loss with respect to each logit,
    |dL_ij/dz_ij| of the focal-modulated term times the sample weight, divided by ``avg_factor``
    (the number of positives, which changes every iteration) and times ``loss_weight``; split
    into positives and negatives per class (:class:`GradientStatistics`: buffers, summed across
    processes when distributed). It is computed analytically, so AMP's loss scale does not enter
    it. One-stage heads call the loss once per FPN level: the calls of one iteration are
    gathered and committed once, at the end of its backward pass, so every level of iteration t
    uses the statistics of iterations before t (the authors' behaviour).

    A drop-in replacement for mmdet's ``FocalLoss`` (``use_sigmoid=True``) in RetinaNet, ATSS,
    FCOS-style heads: same call, per-sample weights (N,) or (N, C), ``avg_factor`` and reduction.

    Args:
        num_classes (int): C, the width of the sigmoid classifier.
        gamma_b (float): the base focusing factor (2).
        scale_factor (float): s, how far rare classes' focusing grows (8).
        alpha (float): the focal loss's balance of positives (0.25); < 0 disables it.
        use_sigmoid (bool): must be True (one-stage heads read it to size their classifier).
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside [0, C] and on NaN or infinite scores.
    """

    def __init__(self,
                 num_classes: int,
                 gamma_b: float = 2.0,
                 scale_factor: float = 8.0,
                 alpha: float = 0.25,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True) -> None:
        super().__init__()
        check_loss_args(
            'EqualizedFocalLoss', num_classes, use_sigmoid, reduction, scale_factor=scale_factor)
        if not isinstance(gamma_b, (int, float)) or not gamma_b > 0:
            raise ValueError(f'EqualizedFocalLoss: gamma_b must be a number > 0, got {gamma_b!r}')
        self.num_classes = num_classes
        self.gamma_b = float(gamma_b)
        self.scale_factor = float(scale_factor)
        self.alpha = float(alpha)
        self.use_sigmoid = True
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        self.grad_stats = GradientStatistics(num_classes)

    def focusing_factors(self) -> Tensor:
        """The (C,) gamma_j the next step uses."""
        return efl_focusing_factors(self.grad_stats.ratio(), self.gamma_b, self.scale_factor)

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Computes the loss and, in training mode, collects the gradient statistics (counted
        when the backward pass runs, committed at its end).

        Args:
            pred (Tensor): (N, C) logits.
            target (Tensor): (N,) labels in [0, C] (C is background), or an (N, C) one-hot
                target as mmdet's FocalLoss accepts.
            weight (Tensor, optional): (N,) or (N, C) sample weights.
            avg_factor (float, optional): normaliser of the summed loss for 'mean'.
            reduction_override (str, optional): 'none', 'mean' or 'sum'.

        Returns:
            Tensor: a scalar, or (N, C) with reduction 'none'.
        """
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        C = self.num_classes
        if pred.dim() != 2 or pred.size(1) != C:
            extra = (' One-stage heads size their classifier from the loss config: write '
                     "use_sigmoid=True in loss_cls=dict(type='EqualizedFocalLoss', ...)"
                     if pred.dim() == 2 and pred.size(1) == C + 1 else '')
            raise ValueError(f'EqualizedFocalLoss expects pred of shape (N, {C}), got '
                             f'{tuple(pred.shape)}.{extra}')
        target = _labels(pred, target, C)
        if self.check_inputs:
            check_finite_and_labels('EqualizedFocalLoss', pred, target, C)
        logits = pred.float()
        y = F.one_hot(target, C + 1)[:, :C].to(logits.dtype)  # background: all zeros
        prob = torch.sigmoid(logits)
        gamma = self.focusing_factors().to(logits.dtype)  # (C,)
        p_t = prob * y + (1 - prob) * (1 - y)
        factor = (gamma / self.gamma_b).expand_as(logits)
        if self.alpha >= 0:
            factor = factor * (self.alpha * y + (1 - self.alpha) * (1 - y))
        loss = F.binary_cross_entropy_with_logits(logits, y, reduction='none')
        loss = loss * (1 - p_t).pow(gamma) * factor
        weight = _sample_weight(weight, loss)
        if self.training:
            with torch.no_grad():
                magnitude = efl_grad_magnitude(p_t, gamma, factor)
                if weight is not None:
                    magnitude = magnitude * weight
                scale = self.loss_weight * _reduction_scale(reduction, avg_factor, loss.numel())
                pos, neg = split_by_label(magnitude * scale, target)
            self.grad_stats.collect_on_backward(pred, pos, neg)
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, gamma_b={self.gamma_b}, '
                f'scale_factor={self.scale_factor}, alpha={self.alpha}, '
                f'reduction={self.reduction!r}, loss_weight={self.loss_weight}')
