"""Per-class accumulated gradient statistics, shared by EQLv2 and the Equalized Focal Loss.

Shapes: N = samples (RoIs or anchor points), C = foreground classes.

When the statistics change (both authors' training behaviour, see ``docs/`` and the README): a
loss reads the *committed* statistics, which hold the iterations before the current one, and
hands this call's per-class sums to :meth:`GradientStatistics.collect_on_backward`. They become
pending when the backward pass reaches the call's logits, and are committed, once, when that
backward pass ends (one all-reduce when distributed). A one-stage head that calls its loss once
per FPN level therefore trains every level of iteration t with the statistics of iterations
before t, like the authors' EFL (gradients gathered over all levels, committed once) and EQLv2
(one call per iteration). A forward pass without a backward pass (evaluation, ``no_grad``, a loss
computed only for logging) collects nothing.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.dist import all_reduce
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


def _queue_at_end_of_backward(fn) -> None:
    # the autograd engine runs queued callbacks once the whole backward pass has finished (DDP
    # finalises its gradient reduction the same way); only valid while a backward pass runs
    torch.autograd.Variable._execution_engine.queue_callback(fn)


class GradientStatistics(nn.Module):
    """Accumulated positive and negative gradient magnitudes per class, and their ratio.

    P_j and N_j are summed over every training iteration since the start (no decay) and kept as
    buffers (float64, in checkpoints, restored on resume). One iteration's sums, from however
    many loss calls, are committed once, at the end of its backward pass
    (:meth:`collect_on_backward`); when torch.distributed runs more than one process they are
    summed across processes first (one all-reduce of 2C numbers per iteration), so every rank
    holds the global statistics. ``num_updates`` counts committed iterations; before the first
    the ratio is 1 for every class.

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
        self._pending: Optional[Tensor] = None  # (2, C) sums of the backward pass under way

    def _apply(self, fn, *args, **kwargs):
        # keep float64 when the model is cast (module.half(), .float()): only move devices
        pos, neg = self.pos_grad, self.neg_grad
        super()._apply(fn, *args, **kwargs)
        device = self.num_updates.device
        self.pos_grad = pos.to(device)
        self.neg_grad = neg.to(device)
        return self

    def ratio(self) -> Tensor:
        """(C,) g_j = P_j / (N_j + 1e-10) of the committed iterations; 1 before the first.
        No host synchronisation."""
        g = self.pos_grad / (self.neg_grad + RATIO_EPS)
        return torch.where(self.num_updates > 0, g, torch.ones_like(g))

    def _check(self, pos: Tensor, neg: Tensor) -> None:
        if pos.shape != (self.num_classes, ) or neg.shape != (self.num_classes, ):
            raise ValueError(f'GradientStatistics expects ({self.num_classes},) sums, got '
                             f'{tuple(pos.shape)} and {tuple(neg.shape)}')

    @torch.no_grad()
    def add_pending(self, pos: Tensor, neg: Tensor) -> None:
        """Adds (C,) sums to the current iteration's, which :meth:`commit` makes visible."""
        self._check(pos, neg)
        both = torch.stack([pos, neg]).to(device=self.pos_grad.device, dtype=torch.float64)
        self._pending = both if self._pending is None else self._pending + both

    @torch.no_grad()
    def commit(self) -> None:
        """Ends the iteration: its pending sums, summed across processes when distributed, are
        added to P and N, and ``num_updates`` grows by one. Nothing pending: nothing happens."""
        if self._pending is None:
            return
        both, self._pending = self._pending, None
        all_reduce(both, op='sum')  # returns at once for a single process
        self.pos_grad += both[0]
        self.neg_grad += both[1]
        self.num_updates += 1

    def update(self, pos: Tensor, neg: Tensor) -> None:
        """Adds one iteration's (C,) sums now (pending and commit in one; for tools and tests)."""
        self.add_pending(pos, neg)
        self.commit()

    def collect_on_backward(self, logits: Tensor, pos: Tensor, neg: Tensor) -> None:
        """Counts this loss call's (C,) sums when the backward pass reaches ``logits``, and
        commits the iteration at the end of that backward pass (once, whatever the number of
        calls). Logits that need no gradient collect nothing."""
        if not (torch.is_grad_enabled() and logits.requires_grad):
            return
        pos, neg = pos.detach(), neg.detach()

        def on_grad(grad: Tensor) -> None:
            self.add_pending(pos, neg)
            # every call queues a commit: the first commits the iteration, the rest find
            # nothing pending (all hooks of a backward pass run before any of its callbacks)
            _queue_at_end_of_backward(self.commit)

        logits.register_hook(on_grad)

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}'
