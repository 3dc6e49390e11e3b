"""Equalization Loss (EQL) for the RoI classifier.

Shapes: N = RoIs in the batch, C = foreground classes; label C means background. EQL's classifier
has C outputs (no background logit): a background RoI is one whose C sigmoid targets are all 0.
"""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor

from mmdet_eql.utils.class_frequency import (ClassFrequency, check_num_classes, load_preset,
                                             resolve_class_freq, summarize_protection)
from .utils import CWideSigmoidHeadMixin, check_finite_and_labels, check_loss_args

# softplus(x) is computed as x above this threshold; exp(-40) is below float64's resolution of x.
_SOFTPLUS_THRESHOLD = 40.0

#: lambda of the EQLv2 authors' EQL runs on LVIS v1 (their configs; docs/references.md)
AUTHORS_V1_LAMBDA = 0.0011


def is_lvis_v1(cf: ClassFrequency) -> bool:
    """Whether ``cf`` holds LVIS v1's train statistics: the 'lvis_v1' preset, or a file with the
    preset's category ids and image counts (tools/analysis_tools/class_frequency.py on LVIS v1
    train)."""
    if cf.source == 'lvis_v1':
        return True
    if cf.ids is None or cf.image_counts is None or len(cf) != 1203:
        return False
    v1 = load_preset('lvis_v1')
    return cf.ids == v1.ids and cf.image_counts == v1.image_counts


def protection_notes(
        cf: ClassFrequency,
        lambda_: float,
        unprotected: str = 'EQL is plain sigmoid cross-entropy') -> List[Tuple[int, str]]:
    """(logging level, message) about what lambda protects: a warning when it protects no class
    (EQL would be plain sigmoid cross-entropy); information, with the reason, when it protects
    classes LVIS calls frequent (> 100 train images), as the authors' LVIS v1 setting does."""
    mask = cf.protected(lambda_)
    out = []
    empty = np.flatnonzero(cf.freq == 0)
    if len(empty):
        names = ', '.join(repr(cf.names[i]) if cf.names else f'class {i}' for i in empty[:5])
        out.append((logging.WARNING, f'{len(empty)} of {len(cf)} classes have no train image '
                    f'(f = 0: {names}{", ..." if len(empty) > 5 else ""}): they have no positive '
                    'to learn from' + (', and lambda > 0 protects them' if lambda_ > 0 else '') +
                    '; check the class list and the annotation file the frequencies came from'))
    if lambda_ > 0 and not mask.any():
        out.append((logging.WARNING, f'lambda={lambda_:g} protects no class (smallest frequency '
                    f'{cf.freq.min():.3g}): {unprotected}'))
    if len(cf) > 1 and mask.all():
        out.append(
            (logging.WARNING, f'lambda={lambda_:g} protects all {len(cf)} classes '
             f'(largest frequency {cf.freq.max():.3g}): every class then ignores the '
             'negative gradient of the other classes\' objects, the frequent ones too, which '
             'is not what EQL is for; take lambda below the frequent classes\' f, or '
             'lambda_=None with tail_ratio=0.091 (the paper\'s), or run '
             'tools/analysis_tools/class_frequency.py, which prints the choices'))
    n_freq = cf.count_by_group(mask).get('f', 0)
    if n_freq and not mask.all():
        counts = ''
        if cf.image_counts is not None:
            c = [n for n, g, m in zip(cf.image_counts, cf.groups, mask) if g == 'f' and m]
            counts = f' ({min(c)}-{max(c)} train images)'
        msg = (f'lambda={lambda_:g} also protects {n_freq} classes of the frequent group'
               f'{counts}: f_j < lambda cuts by the share of images, the groups by LVIS\'s '
               '"more than 100 images"')
        if lambda_ == AUTHORS_V1_LAMBDA and is_lvis_v1(cf):
            msg += ('; this is the EQLv2 authors\' own EQL setting for LVIS v1 (lambda=0.0011), '
                    'although the EQL paper finds protecting many frequent classes hurts them')
        else:
            msg += ' (the EQL paper finds protecting many frequent classes hurts them)'
        out.append((logging.INFO, msg))
    return out


#: messages already logged by this process (each is said once, not once per model built)
_SAID = set()


def log_protection(who: str,
                   cf: ClassFrequency,
                   lambda_: float,
                   prefix: str = '',
                   unprotected: str = 'EQL is plain sigmoid cross-entropy') -> None:
    """Logs what lambda protects (every time), and each of ``protection_notes`` once a process,
    as ``who``: messages."""
    print_log(f'{who}: {prefix}{summarize_protection(cf, lambda_)}', logger='current')
    for level, msg in protection_notes(cf, lambda_, unprotected):
        if msg not in _SAID:
            _SAID.add(msg)
            print_log(f'{who}: {msg}', logger='current', level=level)


class _EQLFunction(torch.autograd.Function):
    """Per-RoI EQL with its analytic gradient, without any (N, C) mask.

    With t the (C,) tail indicator, e the (N,) foreground indicator and sp = softplus(z), the
    weight of a negative term is 1 - e_i t_j, so the per-RoI loss is

        L_i = sum_j sp_ij - e_i (sp_i . t) + e_i (t_gt sp_i,gt - z_i,gt)

    (the last term restores the ground-truth column, weight 1 and target 1), and

        dL_i/dz_ij = sigmoid(z_ij) (1 - e_i t_j) - y_ij.

    The (N, C) work is one softplus, a row sum and a matrix-vector product forward, and a sigmoid
    times the rank-2 weight g_i - (g_i e_i) t_j backward. Only logits and labels are saved.
    """

    @staticmethod
    def forward(ctx,
                logits: Tensor,
                labels: Tensor,
                tail: Tensor,
                protect_background: bool = False) -> Tensor:
        num_classes = logits.size(1)
        fg = (labels < num_classes).to(logits.dtype)  # (N,) has a ground-truth column
        e = torch.ones_like(fg) if protect_background else fg  # (N,) E(r_i)
        gt = labels.clamp(max=num_classes - 1)  # (N,) gt column (a dummy for background)
        tail_f = tail.to(logits.dtype)  # (C,) t_j
        soft = F.softplus(logits, threshold=_SOFTPLUS_THRESHOLD)  # (N, C)
        z_gt = logits.gather(1, gt[:, None]).squeeze(1)  # (N,)
        sp_gt = soft.gather(1, gt[:, None]).squeeze(1)
        loss = soft.sum(1) - e * (soft @ tail_f) + fg * (e * tail_f[gt] * sp_gt - z_gt)
        ctx.save_for_backward(logits, labels, tail)
        ctx.protect_background = protect_background
        return loss

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        logits, labels, tail = ctx.saved_tensors
        num_classes = logits.size(1)
        fg = (labels < num_classes).to(logits.dtype)
        e = torch.ones_like(fg) if ctx.protect_background else fg
        gt = labels.clamp(max=num_classes - 1)
        tail_f = tail.to(logits.dtype)
        sig = torch.sigmoid(logits)
        # (N, C) weight g_i (1 - e_i t_j), built as a rank-2 update
        weight = torch.outer(grad_loss * e, tail_f).neg_().add_(grad_loss[:, None])
        grad = sig.mul_(weight)
        # gt column: g_i (sigmoid(z) - 1) whatever the weight set there
        sig_gt = torch.sigmoid(logits.gather(1, gt[:, None]).squeeze(1))
        fix = grad_loss * fg * (e * tail_f[gt] * sig_gt - 1.)
        grad.scatter_add_(1, gt[:, None], fix[:, None])
        return grad, None, None, None


def eql_per_roi(logits: Tensor,
                labels: Tensor,
                tail: Tensor,
                protect_background: bool = False) -> Tensor:
    """Per-RoI EQL, summed over classes.

    Args:
        logits (Tensor): (N, C) classifier outputs.
        labels (Tensor): (N,) int64 labels in [0, C]; C is background.
        tail (Tensor): (C,) bool, classes with f_j < lambda.
        protect_background (bool): E(r) = 1 for every RoI (the paper's "without E(r)" ablation):
            background RoIs drop the tail classes' terms too.

    Returns:
        Tensor: (N,) loss per RoI, in float32 at least (float16/bfloat16 logits are upcast).
    """
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return _EQLFunction.apply(logits, labels, tail, protect_background)


@MODELS.register_module()
class EQLLoss(CWideSigmoidHeadMixin, nn.Module):
    """Equalization Loss, Tan et al., CVPR 2020 (https://arxiv.org/abs/2003.05176).

    Sigmoid cross-entropy over C foreground logits in which, for foreground RoIs, the negative
    terms of the tail classes (f_j < lambda) get weight 0; the ground-truth class always keeps
    weight 1 and background RoIs (label C, all-zero targets) keep every term:

        L = -sum_j w_j [y_j log s(z_j) + (1 - y_j) log(1 - s(z_j))],
        w_j = 1 - E(r) T_lambda(f_j) (1 - y_j).

    Validated against a literal float64 implementation of these equations (loss and gradient to
    1e-12 on random inputs with background RoIs and tail classes; see tests).

    Args:
        num_classes (int): C, the number of foreground classes.
        lambda_ (float): frequency threshold; classes with f_j < lambda_ are protected.
            0.00177 selects LVIS v0.5 rare + common, 0.0011 is the authors' value for LVIS v1.
        class_freq (str | Sequence[float] | ClassFrequency): a preset ('lvis_v1', 'lvis_v0.5'),
            a JSON made by tools/analysis_tools/class_frequency.py, or C floats; required (a
            frequency-aware bbox head writes its own ``class_freq`` into its loss config).
        use_sigmoid (bool): accepted so configs derived from CrossEntropyLoss keep working; must
            be True (EQL is a sigmoid loss).
        reduction (str): 'none', 'mean' or 'sum' (mmdet semantics with weights and avg_factor).
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside [0, C] and on NaN or infinite scores (one
            device synchronisation and two reductions per call). False skips it.
        protect_background (bool): an ablation, off by default: E(r) = 1 for every RoI, so
            background RoIs also drop the tail classes' negative terms (the paper's Table 4,
            "without E(r)": more false positives, APf 25.1 -> 23.1, quoted).
        tail_ratio (float | None): lambda chosen by the tail ratio instead (the paper's Table 2;
            it recommends 2-10 %): the protected classes are the largest set of least frequent
            classes holding at most this share of the train instances, and lambda is set
            halfway between the last protected class's f and the next one's when the
            frequencies are set (logged). Needs instance counts (a preset or a JSON made by
            tools/analysis_tools/class_frequency.py); give ``lambda_=None`` with it.
    """

    def __init__(self,
                 num_classes: int,
                 lambda_: float = 0.0011,
                 class_freq: Optional[Union[str, Sequence[float], ClassFrequency]] = None,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True,
                 protect_background: bool = False,
                 tail_ratio: Optional[float] = None) -> None:
        super().__init__()
        if tail_ratio is not None:
            if lambda_ is not None:
                raise ValueError(
                    f'EQLLoss: give lambda_ or tail_ratio, not both (got lambda_={lambda_!r} and '
                    f'tail_ratio={tail_ratio!r}); a config that inherits one of them sets the '
                    'other to None: loss_cls=dict(lambda_=0.0, tail_ratio=None) to fix lambda, '
                    'loss_cls=dict(lambda_=None, tail_ratio=0.091) to choose it by tail ratio')
            check_loss_args('EQLLoss', num_classes, use_sigmoid, reduction, tail_ratio=tail_ratio)
            if tail_ratio > 1:
                raise ValueError(f'EQLLoss: tail_ratio is a share of the train instances, in [0, '
                                 f'1]; got {tail_ratio!r}')
        else:
            check_loss_args('EQLLoss', num_classes, use_sigmoid, reduction, lambda_=lambda_)
        self.tail_ratio = None if tail_ratio is None else float(tail_ratio)
        self.num_classes = num_classes
        self.lambda_ = None if lambda_ is None else float(lambda_)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        if not isinstance(protect_background, bool):
            raise ValueError('EQLLoss: protect_background must be True or False, got '
                             f'{protect_background!r}')
        self.protect_background = protect_background
        self.use_sigmoid = True
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True
        # persistent=False: the mask is derived from the frequencies, not training state
        self.register_buffer(
            'tail_mask', torch.zeros(num_classes, dtype=torch.bool), persistent=False)
        self.class_freq: Optional[ClassFrequency] = None
        if class_freq is None:
            raise ValueError(
                'EQLLoss built without class frequencies: set class_freq=... on the loss (a preset '
                "such as 'lvis_v1', a JSON made by tools/analysis_tools/class_frequency.py, or C "
                'floats), or use it inside a frequency-aware bbox head (type='
                "'FreqAwareShared2FCBBoxHead', class_freq=...), which passes them on")
        self.set_class_freq(class_freq)

    def set_class_freq(self, class_freq: Union[str, Sequence[float], ClassFrequency]) -> None:
        """Sets the frequencies and computes the tail mask once (kept on the loss's device)."""
        cf = resolve_class_freq(class_freq)
        check_num_classes(cf, self.num_classes, who='EQLLoss')
        prefix = ''
        if self.tail_ratio is not None:  # the paper's Table 2: lambda chosen by the tail ratio
            try:
                self.lambda_ = cf.lambda_for_tail_ratio(self.tail_ratio)
            except ValueError as e:
                raise ValueError(f'EQLLoss (tail_ratio={self.tail_ratio}): {e}') from None
            prefix = (f'tail_ratio={self.tail_ratio:g} -> the protected classes hold '
                      f'{100 * cf.tail_ratio(self.lambda_):.2f} % of the train instances; ')
        mask = torch.from_numpy(cf.protected(self.lambda_))
        self.tail_mask.copy_(mask.to(self.tail_mask.device))
        self.class_freq = cf
        log_protection('EQLLoss', cf, self.lambda_, prefix)

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
        if cls_score.dim() != 2 or cls_score.size(1) != self.num_classes:
            width = cls_score.size(-1) if cls_score.dim() else 0
            extra = (' EQL has no background logit: a background RoI is one whose C sigmoid '
                     'scores are all pushed down, so the classifier must have C outputs (set '
                     'custom_cls_channels via this loss, as the bbox head does)'
                     if width == self.num_classes + 1 else '')
            raise ValueError(f'EQLLoss expects cls_score of shape (N, {self.num_classes}), got '
                             f'{tuple(cls_score.shape)}.{extra}')
        if label.shape != cls_score.shape[:1]:
            raise ValueError(f'EQLLoss expects labels of shape ({cls_score.size(0)},), got '
                             f'{tuple(label.shape)}')
        label = label.long()
        if self.check_inputs:
            check_finite_and_labels('EQLLoss', cls_score, label, self.num_classes)
        loss = eql_per_roi(cls_score, label, self.tail_mask, self.protect_background)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, lambda_={self.lambda_}, '
                f'reduction={self.reduction!r}, loss_weight={self.loss_weight}' +
                (', protect_background=True' if self.protect_background else '') +
                ('' if self.tail_ratio is None else f', tail_ratio={self.tail_ratio}'))
