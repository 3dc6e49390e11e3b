"""Softmax Equalization Loss (SEQL), the EQL paper's second loss (Tan et al., CVPR 2020, its
section on image classification).

    L_i = -z_i,y + log sum_k w_ik exp(z_ik),   w_ik = 1 - beta_i T_lambda(f_k) (1 - y_ik),

with beta_i ~ Bernoulli(gamma) drawn once per sample and T_lambda(f) = 1 if f < lambda. The weight
enters the denominator only: with beta_i = 1 the protected classes other than the sample's own
drop out of its softmax, so they get no discouraging gradient from it.

Two layouts, told apart by the width of the logits:

* detection (mmdet's plain softmax RoI head): (N, C + 1) logits, background last, labels in
  [0, C]. The background column is never protected, and a background RoI (label C) keeps every
  term, the role of E(r) in the sigmoid EQL (the paper's Table 4: protecting on background RoIs
  too hurts the frequent classes);
* classification: (N, C) logits, labels in [0, C - 1].
"""
from numbers import Real
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from mmdet_eql.utils.class_frequency import ClassFrequency, check_num_classes, resolve_class_freq
from .eql_loss import log_protection
from .utils import check_finite_and_labels, check_loss_args


def draw_beta(num: int, gamma: float, device) -> Tensor:
    """(num,) bool: beta ~ Bernoulli(gamma) per sample, from torch's default generator of
    ``device`` (whose state RNGStateHook saves, so a resumed run draws the same numbers).
    gamma = 0 draws nothing (the generator advances as under plain cross-entropy); gamma = 1
    draws nothing either (beta is always 1)."""
    if gamma <= 0:
        return torch.zeros(num, dtype=torch.bool, device=device)
    if gamma >= 1:
        return torch.ones(num, dtype=torch.bool, device=device)
    return torch.rand(num, device=device) < gamma


def seql_per_sample(logits: Tensor, labels: Tensor, tail: Tensor, beta: Tensor) -> Tensor:
    """Per-sample SEQL for given draws.

    Args:
        logits (Tensor): (N, K) logits; K = C + 1 (detection: the last column is background) or
            K = C (classification).
        labels (Tensor): (N,) int64 labels in [0, K - 1]; in the detection layout label C is
            background, and its row keeps every term.
        tail (Tensor): (C,) bool, classes with f_k < lambda.
        beta (Tensor): (N,) bool, the draws.

    Returns:
        Tensor: (N,) loss, float32 at least (float16/bfloat16 logits are upcast).
    """
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    num_fg = tail.numel()
    width = logits.size(1)
    protect = beta & (labels < num_fg)  # a background RoI protects nothing (E(r) = 0)
    tail_k = tail if width == num_fg else torch.cat([tail, tail.new_zeros(width - num_fg)])
    # w_ik = 0 where the sample protects class k, k is a tail class, and k is not its label
    drop = protect[:, None] & tail_k[None, :]
    drop.scatter_(1, labels[:, None], False)
    masked = logits.masked_fill(drop, float('-inf'))
    z_gt = logits.gather(1, labels[:, None]).squeeze(1)
    return torch.logsumexp(masked, dim=1) - z_gt


@MODELS.register_module()
class SoftmaxEQLLoss(nn.Module):
    """Softmax Equalization Loss (SEQL), Tan et al., CVPR 2020 (https://arxiv.org/abs/2003.05176).

    Softmax cross-entropy in which, for a sample with beta = 1 (probability gamma, drawn per
    sample: per RoI in a detection head, per image in classification), the tail classes
    (f_k < lambda) other than its own label leave the softmax's denominator:

        L = -z_y + log sum_k w_k exp(z_k),   w_k = 1 - beta T_lambda(f_k) (1 - y_k).

    Detection layout: (N, C + 1) logits with background last (mmdet's softmax bbox head); the
    background class is never protected and a background RoI keeps every term. Classification
    layout: (N, C) logits. gamma = 0 is exactly softmax cross-entropy.

    Args:
        num_classes (int): C, the number of (foreground) classes.
        lambda_ (float): frequency threshold; classes with f_k < lambda_ are protected. 0.0011 is
            the value the EQLv2 authors use for the sigmoid EQL on LVIS v1.
        gamma (float): probability in [0, 1] that a sample protects the tail classes. The paper:
            0.9 on ImageNet-LT (Table 9), 0.95 and 0.9 on CIFAR-100-LT (Table 7).
        class_freq (str | Sequence[float] | ClassFrequency): a preset ('lvis_v1', 'lvis_v0.5'), a
            JSON made by tools/analysis_tools/class_frequency.py, or C floats; required.
        use_sigmoid (bool): accepted so configs derived from CrossEntropyLoss keep working; must
            be False (SEQL is a softmax loss).
        reduction (str): 'none', 'mean' or 'sum' (mmdet semantics with weights and avg_factor).
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside the layout's range and on NaN or infinite
            scores (one device synchronisation per call). False skips it.
    """

    def __init__(self,
                 num_classes: int,
                 lambda_: float = 0.0011,
                 gamma: float = 0.9,
                 class_freq: Optional[Union[str, Sequence[float], ClassFrequency]] = None,
                 use_sigmoid: bool = False,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True) -> None:
        super().__init__()
        if use_sigmoid:
            raise ValueError('SoftmaxEQLLoss is a softmax loss: use_sigmoid=True is not supported '
                             '(for the sigmoid EQL use EQLLoss)')
        # check_loss_args asks use_sigmoid=True of the sigmoid losses; the other checks apply
        check_loss_args('SoftmaxEQLLoss', num_classes, True, reduction, lambda_=lambda_)
        if isinstance(gamma, bool) or not isinstance(gamma, Real) or not np.isfinite(gamma) \
                or not 0 <= gamma <= 1:
            raise ValueError('SoftmaxEQLLoss: gamma is the probability that a sample protects the '
                             f'tail classes and must lie in [0, 1], got {gamma!r}')
        self.num_classes = num_classes
        self.lambda_ = float(lambda_)
        self.gamma = float(gamma)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        self.use_sigmoid = False
        self.register_buffer(
            'tail_mask', torch.zeros(num_classes, dtype=torch.bool), persistent=False)
        #: the (N,) draws of the last call (diagnostics and tests)
        self.last_beta: Optional[Tensor] = None
        self.class_freq: Optional[ClassFrequency] = None
        if class_freq is None:
            raise ValueError(
                "SoftmaxEQLLoss built without class frequencies: set class_freq=... (a preset such "
                "as 'lvis_v1', a JSON made by tools/analysis_tools/class_frequency.py, or C floats)"
            )
        self.set_class_freq(class_freq)

    def set_class_freq(self, class_freq: Union[str, Sequence[float], ClassFrequency]) -> None:
        """Sets the frequencies and computes the tail mask once."""
        cf = resolve_class_freq(class_freq)
        check_num_classes(cf, self.num_classes, who='SoftmaxEQLLoss')
        self.tail_mask.copy_(torch.from_numpy(cf.protected(self.lambda_)).to(self.tail_mask.device))
        self.class_freq = cf
        log_protection(
            'SoftmaxEQLLoss',
            cf,
            self.lambda_,
            prefix=f'gamma={self.gamma:g}, ',
            unprotected='SEQL is plain softmax cross-entropy')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Computes the loss, drawing beta for each sample.

        Args:
            cls_score (Tensor): (N, C + 1) logits, background last (detection), or (N, C)
                (classification).
            label (Tensor): (N,) labels: in [0, C] (C background) or in [0, C - 1].
            weight (Tensor, optional): (N,) per-sample weights (mmdet's label_weights).
            avg_factor (float, optional): normaliser of the summed loss for 'mean'.
            reduction_override (str, optional): 'none', 'mean' or 'sum'.

        Returns:
            Tensor: a scalar, or (N,) with reduction 'none'.
        """
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        c = self.num_classes
        if cls_score.dim() != 2 or cls_score.size(1) not in (c, c + 1):
            raise ValueError(f'SoftmaxEQLLoss expects cls_score of shape (N, {c + 1}) (detection, '
                             f'background last) or (N, {c}) (classification), got '
                             f'{tuple(cls_score.shape)}')
        if label.shape != cls_score.shape[:1]:
            raise ValueError(f'SoftmaxEQLLoss expects labels of shape ({cls_score.size(0)},), got '
                             f'{tuple(label.shape)}')
        label = label.long()
        max_label = cls_score.size(1) - 1
        if self.check_inputs:
            if max_label == c - 1 and label.numel() and bool((label == c).any()):
                raise ValueError(f'SoftmaxEQLLoss: label {c} (background) with {c} logits: a '
                                 f'detection head needs {c + 1} outputs, background last')
            check_finite_and_labels('SoftmaxEQLLoss', cls_score, label, max_label)
        beta = draw_beta(label.numel(), self.gamma, cls_score.device)
        self.last_beta = beta
        if self.gamma == 0:  # no sample protects: torch's softmax cross-entropy, bit for bit
            logits = cls_score.float() if cls_score.dtype in (torch.float16,
                                                              torch.bfloat16) else cls_score
            loss = F.cross_entropy(logits, label, reduction='none')
        else:
            loss = seql_per_sample(cls_score, label, self.tail_mask, beta)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, lambda_={self.lambda_}, gamma={self.gamma}, '
                f'reduction={self.reduction!r}, loss_weight={self.loss_weight}')
