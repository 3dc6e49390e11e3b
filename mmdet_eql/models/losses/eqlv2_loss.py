"""Equalization Loss v2 (EQLv2) for the RoI classifier.

Shapes: N = RoIs, C = foreground classes; the classifier has C + 1 sigmoid logits, the last an
objectness (background) logit. Label C means background.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from .grad_stats import GradientStatistics, split_by_label
from .utils import ObjectnessSigmoidHeadMixin, check_finite_and_labels, check_loss_args


def eqlv2_weights(ratio: Tensor, gamma: float, mu: float, alpha: float):
    """(C,) positive and negative weights from the (C,) gradient ratio g:
    neg_w = 1 / (1 + exp(-gamma (g - mu))), pos_w = 1 + alpha (1 - neg_w)."""
    neg_w = torch.sigmoid(gamma * (ratio - mu))
    pos_w = 1 + alpha * (1 - neg_w)
    return pos_w, neg_w


@MODELS.register_module()
class EqualizationLossV2(ObjectnessSigmoidHeadMixin, nn.Module):
    """Equalization Loss v2, Tan et al., CVPR 2021 (https://arxiv.org/abs/2012.08548).

    Sigmoid cross-entropy over C + 1 logits. For class j with accumulated gradient ratio
    g_j = P_j / (N_j + 1e-10) (statistics of the iterations before this one), positive terms are
    weighted by pos_w_j = 1 + alpha (1 - neg_w_j) and negative terms by
    neg_w_j = sigmoid(gamma (g_j - mu)); in the first iteration, before any statistics, every
    weight is 1, as the authors start. The objectness column (target 1 for background RoIs) has
    weight 1 and no statistics. Each training call's |s(z) - y| times the weights used (and the
    per-RoI weight; not divided by ``avg_factor``, as the authors collect) is added to P_j
    (positives) and N_j (negatives) when its backward pass runs, and committed once per
    iteration at the end of that pass: :class:`GradientStatistics`, global across processes
    whenever torch.distributed runs more than one (no flag; a single process never all-reduces).

    Differences from the public versions, on purpose: a registry name of its own (mmdet ships
    ``EQLV2Loss``); statistics are buffers (in checkpoints, restored on resume); per-RoI weights,
    ``avg_factor`` and reduction follow mmdet (all weights 1 and avg_factor = N give the paper's
    sum over classes averaged over RoIs); the bbox head's ``custom_*`` contract scores
    s(z_j) (1 - s(z_bg)) at test time.

    Args:
        num_classes (int): C (the classifier gets C + 1 outputs through get_cls_channels).
        gamma (float): steepness of the negative-weight mapping (12).
        mu (float): its centre (0.8).
        alpha (float): strength of the positive up-weighting (4).
        use_sigmoid (bool): accepted for configs derived from CrossEntropyLoss; must be True.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside [0, C] and on NaN or infinite scores.
    """

    def __init__(self,
                 num_classes: int,
                 gamma: float = 12.0,
                 mu: float = 0.8,
                 alpha: float = 4.0,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True) -> None:
        super().__init__()
        check_loss_args(
            'EqualizationLossV2', num_classes, use_sigmoid, reduction, gamma=gamma, alpha=alpha)
        self.num_classes = num_classes
        self.gamma = float(gamma)
        self.mu = float(mu)
        self.alpha = float(alpha)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        self.use_sigmoid = True
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True
        self.grad_stats = GradientStatistics(num_classes)

    def get_weights(self):
        """The (C,) positive and negative weights the next iteration uses: from the committed
        statistics, and exactly 1 before the first commit (the authors' start)."""
        pos_w, neg_w = eqlv2_weights(self.grad_stats.ratio(), self.gamma, self.mu, self.alpha)
        started = self.grad_stats.num_updates > 0
        return (torch.where(started, pos_w, torch.ones_like(pos_w)),
                torch.where(started, neg_w, torch.ones_like(neg_w)))

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Computes the loss and, in training mode, collects the gradient statistics (counted
        when the backward pass runs, committed at its end).

        Args:
            cls_score (Tensor): (N, C + 1) logits.
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
        if cls_score.dim() != 2 or cls_score.size(1) != C + 1:
            extra = (' EQLv2 has an objectness column: the classifier needs C + 1 outputs '
                     '(get_cls_channels does this inside a bbox head)'
                     if cls_score.dim() == 2 and cls_score.size(1) == C else '')
            raise ValueError(f'EqualizationLossV2 expects cls_score of shape (N, {C + 1}), got '
                             f'{tuple(cls_score.shape)}.{extra}')
        label = label.long()
        if self.check_inputs:
            check_finite_and_labels('EqualizationLossV2', cls_score, label, C)
        logits = cls_score.float()
        n = logits.size(0)
        target = F.one_hot(label, C + 1).to(logits.dtype)  # background RoIs: objectness 1
        pos_w, neg_w = self.get_weights()
        ones = pos_w.new_ones(1)
        pos_w = torch.cat([pos_w, ones]).to(logits.dtype)
        neg_w = torch.cat([neg_w, ones]).to(logits.dtype)
        elem_w = neg_w.expand(n, C + 1) + target * (pos_w - neg_w)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
        loss = (bce * elem_w).sum(1)
        if weight is not None:
            weight = weight.float()
        if self.training:  # |dL/dz| = |s(z) - y| times the weights used, per class
            with torch.no_grad():
                magnitude = (torch.sigmoid(logits[:, :C]) - target[:, :C]).abs() * elem_w[:, :C]
                if weight is not None:
                    magnitude = magnitude * weight[:, None]
                pos, neg = split_by_label(magnitude, label)
            self.grad_stats.collect_on_backward(cls_score, pos, neg)
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, gamma={self.gamma}, mu={self.mu}, '
                f'alpha={self.alpha}, reduction={self.reduction!r}, '
                f'loss_weight={self.loss_weight}')
