"""EQL as two fused Triton kernels: one launch forward, one backward.

On a GPU the eager EQL (:class:`~mmdet_eql.models.losses.eql_loss._EQLFunction`) is bound by kernel
launches, not by memory: at LVIS shapes (C = 1203, a few thousand RoIs) each of its dozen (N, C)
operations moves a few megabytes, microseconds of work behind a launch that costs as much. Here
the forward reads each logit once and writes one loss per RoI; the backward reads each logit once
and writes its gradient. Per row (RoI i, label l_i, e_i = 1 if 0 <= l_i < C, t the tail mask):

    L_i      = sum_j w_ij softplus(z_ij) - z_i,l_i [e_i]       w_ij = 1 - e_i t_j [j != l_i]
    dL_i/dz  = w_ij sigmoid(z_ij) - [j == l_i]

The input checks are computed by the same forward kernel (labels outside [0, C], NaN or infinite
logits, counted into two integers), so checking costs no extra pass over the logits. On CUDA the
two counts come back to the host asynchronously (a pinned buffer and an event) and are read when
they are ready: at the latest when the loss is called the next time, so a bad batch raises within
one step without a synchronisation in every step. Elsewhere (Triton's interpreter, used by the
tests on the CPU) they are read at once.

Logits of any float dtype are read as they are and computed in float32; the gradient is written
in the logits' dtype, the loss in float32.
"""
import os
from typing import Optional, Tuple

import torch
from torch import Tensor

try:  # Triton ships with CUDA builds of PyTorch; without it the eager EQL is used
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised on machines without triton
    triton = None

#: the widest block of classes one program handles at once (wider C loops over blocks)
MAX_BLOCK_C = 2048

#: whether this module's kernels are interpreted: Triton decides when a kernel is decorated, so
#: TRITON_INTERPRET as it was at import is what counts (set later, it changes nothing)
_INTERPRETED = os.environ.get('TRITON_INTERPRET', '0') not in ('', '0')


def interpreting() -> bool:
    """True when this module's kernels run in Triton's CPU interpreter (``TRITON_INTERPRET=1``
    at import)."""
    return _INTERPRETED


def triton_importable() -> bool:
    return triton is not None


def triton_usable(logits: Tensor) -> bool:
    """Whether the fused kernels can run on ``logits``: Triton is importable and the tensor is on
    a CUDA device (or on the CPU under Triton's interpreter)."""
    if triton is None:
        return False
    return logits.is_cuda or (interpreting() and logits.device.type == 'cpu')


if triton is not None:

    @triton.jit
    def _eql_fwd_kernel(z_ptr, label_ptr, tail_ptr, loss_ptr, flags_ptr, num_classes, stride_z,
                        BLOCK_C: tl.constexpr, NUM_BLOCKS: tl.constexpr):
        row = tl.program_id(0)
        label = tl.load(label_ptr + row).to(tl.int32)
        fg = (label >= 0) & (label < num_classes)
        acc = tl.zeros([BLOCK_C], dtype=tl.float32)
        bad = tl.zeros([BLOCK_C], dtype=tl.int32)
        # a constexpr trip count: Triton 3.6's interpreter cannot take a runtime bound under numpy 2
        for block in range(NUM_BLOCKS):
            cols = block * BLOCK_C + tl.arange(0, BLOCK_C)
            inside = cols < num_classes
            z = tl.load(z_ptr + row * stride_z + cols, mask=inside, other=0.).to(tl.float32)
            tail = tl.load(tail_ptr + cols, mask=inside, other=0)
            is_gt = cols == label
            # softplus(z) = max(z, 0) + log(1 + exp(-|z|)), stable for every finite z
            soft = tl.maximum(z, 0.) + tl.log(1. + tl.exp(-tl.abs(z)))
            weight = tl.where(fg & (tail != 0), 0., 1.)
            term = tl.where(is_gt, soft - z, weight * soft)
            acc += tl.where(inside, term, 0.)
            finite = tl.abs(z) < float('inf')  # False for NaN and +-inf
            bad += tl.where(inside & (finite == 0), 1, 0)
        tl.store(loss_ptr + row, tl.sum(acc, axis=0))
        bad_label = tl.where((label < 0) | (label > num_classes), 1, 0)
        tl.atomic_add(flags_ptr, bad_label, mask=bad_label > 0)
        bad_scores = tl.sum(bad, axis=0)
        tl.atomic_add(flags_ptr + 1, bad_scores, mask=bad_scores > 0)

    @triton.jit
    def _eql_bwd_kernel(z_ptr, label_ptr, tail_ptr, gout_ptr, grad_ptr, num_classes, stride_z,
                        stride_gout, stride_grad, BLOCK_C: tl.constexpr, NUM_BLOCKS: tl.constexpr):
        row = tl.program_id(0)
        label = tl.load(label_ptr + row).to(tl.int32)
        fg = (label >= 0) & (label < num_classes)
        g = tl.load(gout_ptr + row * stride_gout).to(tl.float32)
        # a constexpr trip count: Triton 3.6's interpreter cannot take a runtime bound under numpy 2
        for block in range(NUM_BLOCKS):
            cols = block * BLOCK_C + tl.arange(0, BLOCK_C)
            inside = cols < num_classes
            z = tl.load(z_ptr + row * stride_z + cols, mask=inside, other=0.).to(tl.float32)
            tail = tl.load(tail_ptr + cols, mask=inside, other=0)
            is_gt = cols == label
            weight = tl.where(fg & (tail != 0) & (is_gt == 0), 0., 1.)
            grad = g * (weight * tl.sigmoid(z) - tl.where(is_gt, 1., 0.))
            tl.store(
                grad_ptr + row * stride_grad + cols,
                grad.to(grad_ptr.dtype.element_ty),
                mask=inside)


def _launch_meta(num_classes: int) -> dict:
    """The kernels' compile-time block size, block count and warps for C classes (forward and
    backward share them)."""
    block = min(MAX_BLOCK_C, triton.next_power_of_2(max(num_classes, 16)))
    return dict(
        BLOCK_C=block,
        NUM_BLOCKS=triton.cdiv(num_classes, block),
        num_warps=8 if block >= 2048 else 4)


class _EQLTritonFunction(torch.autograd.Function):
    """Per-RoI EQL through the fused kernels; returns (loss, flags) with flags = (bad labels,
    non-finite logits) as int32 counts on the logits' device."""

    @staticmethod
    def forward(ctx, logits: Tensor, labels: Tensor, tail: Tensor) -> Tuple[Tensor, Tensor]:
        n, c = logits.shape
        loss = torch.empty(n, dtype=torch.float32, device=logits.device)
        flags = torch.zeros(2, dtype=torch.int32, device=logits.device)
        if n:
            _eql_fwd_kernel[(n, )](logits, labels, tail, loss, flags, c, logits.stride(0),
                                   **_launch_meta(c))
        ctx.save_for_backward(logits, labels, tail)
        ctx.mark_non_differentiable(flags)
        return loss, flags

    @staticmethod
    def backward(ctx, grad_loss: Tensor, grad_flags: Optional[Tensor]):
        logits, labels, tail = ctx.saved_tensors
        n, c = logits.shape
        grad = torch.empty_like(logits, memory_format=torch.contiguous_format)
        if n:
            _eql_bwd_kernel[(n, )](logits, labels, tail, grad_loss, grad, c, logits.stride(0),
                                   grad_loss.stride(0), grad.stride(0), **_launch_meta(c))
        return grad, None, None


def eql_per_roi_triton(logits: Tensor, labels: Tensor, tail: Tensor) -> Tuple[Tensor, Tensor]:
    """Per-RoI EQL (float32, shape (N,)) and the two input-check counts (int32, on the device).

    Args:
        logits (Tensor): (N, C) logits of any float dtype.
        labels (Tensor): (N,) integer labels; C is background.
        tail (Tensor): (C,) bool, the protected classes.
    """
    if logits.stride(-1) != 1:
        logits = logits.contiguous()
    return _EQLTritonFunction.apply(logits, labels.contiguous(),
                                    tail.contiguous().view(torch.uint8))


class PendingCheck:
    """The input-check counts of one call, on their way to the host.

    On CUDA: copied into pinned memory without blocking, with an event recorded behind the copy;
    :meth:`ready` tells without waiting whether they arrived, :meth:`raise_if_bad` waits for them
    (by then long finished, in training: a whole step later) and raises on bad inputs.
    """

    def __init__(self, loss_name: str, flags: Tensor, numel: int, num_classes: int) -> None:
        self.loss_name = loss_name
        self.numel = numel
        self.num_classes = num_classes
        if flags.is_cuda:
            self.host = torch.empty(2, dtype=flags.dtype, pin_memory=True)
            self.host.copy_(flags, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.host, self.event = flags, None

    def ready(self) -> bool:
        return self.event is None or self.event.query()

    def raise_if_bad(self) -> None:
        if self.event is not None:
            self.event.synchronize()
        bad_labels, bad_scores = (int(v) for v in self.host.tolist())
        if bad_labels:
            raise ValueError(f'{self.loss_name}: {bad_labels} labels lie outside '
                             f'[0, {self.num_classes}] (0..C-1 classes, C background)')
        if bad_scores:
            raise FloatingPointError(f'{self.loss_name}: cls_score has {bad_scores} NaN or '
                                     f'infinite entries of {self.numel}')
