"""Per-class accumulated gradient statistics, shared by EQLv2 and the Equalized Focal Loss.

Shapes: N = samples (RoIs or anchor points), C = foreground classes.
"""
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import get_world_size
from torch import Tensor

#: the denominator's epsilon of g_j = P_j / (N_j + eps), as in the EQLv2 paper
RATIO_EPS = 1e-10


def split_by_label(magnitude: Tensor, labels: Tensor):
    """Per-class sums of an (N, C) gradient magnitude over positive and negative samples.

    Args:
        magnitude (Tensor): (N, C) |dL/dz_ij|, already weighted.
        labels (Tensor): (N,) int64 in [0, C]; C means background (no positive column).

    Returns:
        tuple[Tensor, Tensor]: (C,) float64 P_j = sum_{i: y_i = j} m_ij and
        N_j = sum_{i: y_i != j} m_ij (the column sum minus the positives).
    """
    num_classes = magnitude.size(1)
    m = magnitude.detach().to(torch.float64)
    fg = torch.nonzero(labels < num_classes, as_tuple=False).squeeze(1)
    gt = labels[fg]
    m_gt = m[fg, gt]
    pos = torch.zeros(num_classes, dtype=torch.float64, device=m.device).index_add_(0, gt, m_gt)
    neg = m.sum(0).index_add_(0, gt, -m_gt)
    return pos, neg


def sigmoid_grad_magnitudes(prob: Tensor, labels: Tensor, weight: Optional[Tensor] = None):
    """Per-class sums of |dBCE/dz| = |s(z) - y|, split by positive and negative samples.

    Args:
        prob (Tensor): (N, C) sigmoid scores.
        labels (Tensor): (N,) int64 in [0, C]; C means background (no positive column).
        weight (Tensor, optional): (N, C) or (N,) weight of each term (the loss's weights).

    Returns:
        tuple[Tensor, Tensor]: (C,) float64 positive sums P and (C,) negative sums N:
        P_j = sum_{i: y_i = j} w_ij (1 - p_ij), N_j = sum_{i: y_i != j} w_ij p_ij
        (:func:`split_by_label` of |s - y| w).
    """
    num_classes = prob.size(1)
    magnitude = prob.detach().to(torch.float64)  # |s - y| = s off the ground-truth column
    fg = torch.nonzero(labels < num_classes, as_tuple=False).squeeze(1)
    gt = labels[fg]
    magnitude[fg, gt] = 1 - magnitude[fg, gt]
    if weight is not None:
        weight = weight.detach()
        magnitude = magnitude * (weight[:, None] if weight.dim() == 1 else weight)
    return split_by_label(magnitude, labels)


class GradientStatistics(nn.Module):
    """Accumulated positive and negative gradient magnitudes per class, and their ratio.

    P_j and N_j are summed over every update since the start of training (no decay) and kept as
    buffers, so they are saved in checkpoints and restored on resume. Whenever torch.distributed
    is initialised with more than one process, each update is summed across processes first
    (one all-reduce of 2C numbers), so every rank holds the global statistics; a single process
    needs no flag. Before the first update the ratio is 1 for every class.

    Args:
        num_classes (int): C.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        self.num_classes = num_classes
        # float64: sums over a whole schedule stay exact enough to compare across runs
        self.register_buffer('pos_grad', torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer('neg_grad', torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.int64))

    def _apply(self, fn, *args, **kwargs):
        # keep float64 when the model is cast (module.half(), .float()): only move devices
        pos, neg = self.pos_grad, self.neg_grad
        super()._apply(fn, *args, **kwargs)
        device = self.num_updates.device
        self.pos_grad = pos.to(device)
        self.neg_grad = neg.to(device)
        return self

    def ratio(self) -> Tensor:
        """(C,) g_j = P_j / (N_j + 1e-10); 1 before the first update. No host synchronisation."""
        g = self.pos_grad / (self.neg_grad + RATIO_EPS)
        return torch.where(self.num_updates > 0, g, torch.ones_like(g))

    @torch.no_grad()
    def update(self, pos: Tensor, neg: Tensor) -> None:
        """Adds one step's (C,) sums, summed across processes when distributed."""
        if pos.shape != (self.num_classes, ) or neg.shape != (self.num_classes, ):
            raise ValueError(f'GradientStatistics expects ({self.num_classes},) sums, got '
                             f'{tuple(pos.shape)} and {tuple(neg.shape)}')
        both = torch.stack([pos, neg]).to(device=self.pos_grad.device, dtype=torch.float64)
        if get_world_size() > 1:
            dist.all_reduce(both, op=dist.ReduceOp.SUM)
        self.pos_grad += both[0]
        self.neg_grad += both[1]
        self.num_updates += 1

    def collect(self, magnitude: Tensor, labels: Tensor) -> None:
        """Adds an (N, C) gradient magnitude per class (see :func:`split_by_label`)."""
        self.update(*split_by_label(magnitude, labels))

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}'
