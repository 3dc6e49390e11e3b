"""Effective class-margin loss (ECM; Cho and Krähenbühl, ECCV 2022) for the RoI classifier.

Shapes: N = RoIs, C = foreground classes; the classifier has C + 1 sigmoid logits, the last a
background (objectness) logit. Label C means background.

From the training image counts n_j of the C classes and a background count
n_bg = fg_bg_ratio * sum_j n_j (the authors' 6.3313, the foreground-to-background ratio they
measured in Mask R-CNN), with N = sum_j n_j + n_bg over all C + 1 outputs, each output j has
n+_j = n_j positives and n-_j = N - n_j negatives, margins

    m+_j = log((n+_j^(1/4) + n-_j^(1/4)) / n-_j^(1/4)),
    m-_j = log((n+_j^(1/4) + n-_j^(1/4)) / n+_j^(1/4)),

and weight w_j = a_j log((1 + a_j) / a_j), a_j = n-_j / n+_j. The probability of output j is

    p_ij = exp(z_ij + m+_j) / (exp(z_ij + m+_j) + exp(-z_ij + m-_j))
         = sigmoid(2 z_ij + (m+_j - m-_j)) = sigmoid(2 z_ij + log(n+_j / n-_j) / 4),

and the loss of RoI i is sum_j w_j BCE(p_ij, y_ij) over the C + 1 outputs (y: one-hot of the
label, background RoIs target the last output). At test time the authors score class j as
sigmoid(z_j) (1 - sigmoid(z_bg)): the plain sigmoid of the logit, without margin or doubling.

Only ratios of counts enter (m and w are unchanged when every n_j is scaled), so frequencies
(image counts over the number of images) give the same loss as the counts.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmengine.logging import print_log
from torch import Tensor

from mmdet_eql.utils.class_frequency import ClassFrequency, check_num_classes, resolve_class_freq
from .utils import ObjectnessSigmoidHeadMixin, check_finite_and_labels, check_loss_args


def ecm_terms(counts: Sequence[float], fg_bg_ratio: float = 6.3313) -> Dict[str, np.ndarray]:
    """The (C + 1,) float64 margins and weights of ECM from the (C,) class counts.

    Args:
        counts: training image counts (or frequencies: only their ratios matter), all > 0.
        fg_bg_ratio: the background count over the summed foreground counts.

    Returns:
        dict with 'n_pos', 'n_neg', 'pos_margin' (m+), 'neg_margin' (m-), 'offset'
        (m+ - m-, added to 2 z) and 'weight' (w), each (C + 1,), the last the background's.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_pos = np.append(counts, counts.sum() * fg_bg_ratio)
    n_neg = n_pos.sum() - n_pos
    root_pos, root_neg = n_pos**0.25, n_neg**0.25
    pos_margin = np.log((root_pos + root_neg) / root_neg)
    neg_margin = np.log((root_pos + root_neg) / root_pos)
    a = n_neg / n_pos
    return dict(
        n_pos=n_pos,
        n_neg=n_neg,
        pos_margin=pos_margin,
        neg_margin=neg_margin,
        offset=pos_margin - neg_margin,
        weight=a * np.log1p(1 / a))


@MODELS.register_module()
class EffectiveClassMarginLoss(ObjectnessSigmoidHeadMixin, nn.Module):
    """Effective class-margin loss (Cho and Krähenbühl, ECCV 2022, arXiv:2301.09724).

    Sigmoid cross-entropy over C + 1 logits, each output j with the margin offset
    log(n+_j / n-_j) / 4 on the doubled logit and the weight w_j (module docstring). No state:
    margins and weights are fixed by the class counts before training. The head contract (C + 1
    channels; test-time scores sigmoid(z_j) (1 - sigmoid(z_bg)), the authors' plain sigmoid of the
    logit, no margin or doubling; accuracy) is EQLv2's: ``ObjectnessSigmoidHeadMixin``.

    Differences from the authors' code, on purpose: the counts come from ``class_freq`` (a
    preset, a JSON made by tools/analysis_tools/class_frequency.py, or C numbers), not a
    hard-coded file; per-RoI weights, ``avg_factor`` and reduction follow mmdet (in the RoI head,
    all weights 1 and avg_factor = N: the authors' sum over outputs divided by the RoI count); the
    probability is computed as a sigmoid of 2 z + offset (their ratio of exponentials overflows
    for |z| above about 44 in float32 and 5.5 in float16); logits in float16 / bfloat16 are
    computed in float32.

    Args:
        num_classes (int): C (the classifier gets C + 1 outputs through get_cls_channels).
        class_freq (str | Sequence[float] | ClassFrequency): the class counts: a preset
            ('lvis_v1', 'lvis_v0.5'), a JSON made by tools/analysis_tools/class_frequency.py, or
            C frequencies in [0, 1] (only their ratios matter); required (a frequency-aware bbox
            head writes its own ``class_freq`` into its loss config). Every class needs a count
            above 0.
        fg_bg_ratio (float): background count over the summed foreground counts (the authors':
            6.3313).
        use_sigmoid (bool): accepted for configs derived from CrossEntropyLoss; must be True.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplier of the loss.
        check_inputs (bool): raise on labels outside [0, C] and on NaN or infinite scores.
    """

    def __init__(self,
                 num_classes: int,
                 class_freq: Optional[Union[str, Sequence[float], ClassFrequency]] = None,
                 fg_bg_ratio: float = 6.3313,
                 use_sigmoid: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 check_inputs: bool = True) -> None:
        super().__init__()
        check_loss_args(
            'EffectiveClassMarginLoss',
            num_classes,
            use_sigmoid,
            reduction,
            fg_bg_ratio=fg_bg_ratio)
        if fg_bg_ratio <= 0:
            raise ValueError('EffectiveClassMarginLoss: fg_bg_ratio must be > 0 (the background '
                             f'count over the foreground total), got {fg_bg_ratio!r}')
        self.num_classes = num_classes
        self.fg_bg_ratio = float(fg_bg_ratio)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.check_inputs = check_inputs
        self.use_sigmoid = True
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True
        self.register_buffer(
            'offset', torch.zeros(num_classes + 1, dtype=torch.float64), persistent=False)
        self.register_buffer(
            'class_weight', torch.zeros(num_classes + 1, dtype=torch.float64), persistent=False)
        self.class_freq: Optional[ClassFrequency] = None
        if class_freq is None:
            raise ValueError(
                'EffectiveClassMarginLoss built without class counts: set class_freq=... on the '
                "loss (a preset such as 'lvis_v1', a JSON made by "
                'tools/analysis_tools/class_frequency.py, or C frequencies), or use it inside a '
                "frequency-aware bbox head (type='FreqAwareShared2FCBBoxHead', class_freq=...)")
        self.set_class_freq(class_freq)

    def set_class_freq(self, class_freq: Union[str, Sequence[float], ClassFrequency]) -> None:
        cf = resolve_class_freq(class_freq)
        check_num_classes(cf, self.num_classes, who='EffectiveClassMarginLoss')
        counts = np.asarray(
            cf.image_counts if cf.image_counts is not None else cf.freq, dtype=np.float64)
        empty = np.flatnonzero(~(counts > 0))
        if empty.size:
            names = [cf.names[k] for k in empty[:5]] if cf.names else list(empty[:5])
            raise ValueError(
                f'EffectiveClassMarginLoss: {empty.size} classes of {cf.source} have no training '
                f'image (e.g. {names}): their margin log(n+ / n-) is -inf. ECM needs a count '
                'above 0 for every class; drop those classes from the dataset')
        terms = ecm_terms(counts, self.fg_bg_ratio)
        self.offset.copy_(torch.from_numpy(terms['offset']))
        self.class_weight.copy_(torch.from_numpy(terms['weight']))
        self.class_freq = cf
        source = 'image counts' if cf.image_counts is not None else 'frequencies'
        print_log(
            f'EffectiveClassMarginLoss: margins and weights from the {source} of {cf.source} '
            f'(background count {self.fg_bg_ratio:g} x the foreground total); offsets '
            f'{terms["offset"][:-1].min():.2f}..{terms["offset"][:-1].max():.2f}, weights '
            f'{terms["weight"][:-1].min():.3f}..{terms["weight"][:-1].max():.3f} '
            f'(background {terms["offset"][-1]:.2f}, {terms["weight"][-1]:.3f})',
            logger='current')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Computes the loss.

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
            extra = (' ECM has a background column: the classifier needs C + 1 outputs '
                     '(get_cls_channels does this inside a bbox head)'
                     if cls_score.dim() == 2 and cls_score.size(1) == C else '')
            raise ValueError(f'EffectiveClassMarginLoss expects cls_score of shape (N, {C + 1}), '
                             f'got {tuple(cls_score.shape)}.{extra}')
        label = label.long()
        if self.check_inputs:
            check_finite_and_labels('EffectiveClassMarginLoss', cls_score, label, C)
        logits = cls_score if cls_score.dtype == torch.float64 else cls_score.float()
        target = F.one_hot(label, C + 1).to(logits.dtype)  # background RoIs: last output 1
        bce = F.binary_cross_entropy_with_logits(
            2 * logits + self.offset.to(logits.dtype), target, reduction='none')
        loss = (bce * self.class_weight.to(logits.dtype)).sum(1)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, fg_bg_ratio={self.fg_bg_ratio}, '
                f'reduction={self.reduction!r}, loss_weight={self.loss_weight}')
