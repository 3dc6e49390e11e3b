"""Frequency-awareness for any of mmdet's RoI box heads: the class-frequency source declared once.

:class:`FreqAwareMixin` holds everything the project adds to a box head; the registered heads are
mmdet's own with the mixin in front: ``FreqAwareShared2FCBBoxHead`` (Mask R-CNN FPN, each cascade
stage), ``FreqAwareBBoxHead`` (mmdet's plain ``BBoxHead``: the C4 head on a res5 shared head) and
``FreqAwareShared4Conv1FCBBoxHead``. Another mmdet box head takes it the same way, one line.

Shapes: N = RoIs, C = foreground classes (``num_classes``).
"""
import inspect
import math
from typing import Optional, Sequence, Union

import torch.nn as nn
from mmdet.models.roi_heads.bbox_heads import BBoxHead, Shared2FCBBoxHead, Shared4Conv1FCBBoxHead
from mmdet.registry import MODELS
from mmengine.logging import print_log

from mmdet_eql.utils.class_frequency import (ClassFrequency, check_class_names, check_num_classes,
                                             resolve_class_freq)

#: mmdet's BBoxHead default, used when a config leaves num_classes out
_DEFAULT_NUM_CLASSES = inspect.signature(BBoxHead.__init__).parameters['num_classes'].default


def _takes_class_freq(loss_cfg) -> bool:
    """Whether the registered loss of ``loss_cfg`` has a ``class_freq`` argument."""
    loss_type = loss_cfg.get('type') if hasattr(loss_cfg, 'get') else None
    cls = MODELS.get(loss_type) if isinstance(loss_type, str) else loss_type
    return cls is not None and 'class_freq' in inspect.signature(cls.__init__).parameters


class FreqAwareMixin:
    """What the project adds to one of mmdet's box heads (put it first among the bases).

    The head reads ``class_freq`` (a preset name, a JSON made by
    ``tools/analysis_tools/class_frequency.py`` or C floats), checks it has ``num_classes``
    entries, writes it into its ``loss_cls`` config when the loss takes a ``class_freq``
    argument (as mmdet's DETR head does with ``class_weight``) before the loss is built, and
    initialises the foreground classifier bias from a prior probability, as the EQL authors do:
    b = -log((1 - p) / p), p = 0.001 (Lin et al., focal loss); under a loss with another
    activation, the logit of probability p under it (the loss's ``prior_logit``: Gumbel,
    b = -log(-log p)). ``ClassFreqCheckHook`` finds the head by its ``class_freq`` attribute.

    Args:
        class_freq (str | Sequence[float] | None): the frequency source.
        prior_prob (float | None): prior for the bias of the C foreground logits; None keeps
            mmdet's initialisation. Applied only when the loss is a sigmoid loss.
        **kwargs: the arguments of the mmdet head.
    """

    def __init__(self,
                 *args,
                 class_freq: Optional[Union[str, Sequence[float]]] = None,
                 prior_prob: Optional[float] = 0.001,
                 **kwargs) -> None:
        cf = None
        if class_freq is not None:
            cf = resolve_class_freq(class_freq)
            # checked before the loss is built, so that the error names the head
            num_classes = kwargs.get('num_classes', _DEFAULT_NUM_CLASSES)
            check_num_classes(cf, num_classes, who=type(self).__name__)
            loss_cls = kwargs.get('loss_cls')
            if loss_cls is not None and _takes_class_freq(loss_cls):
                if loss_cls.get('class_freq') is not None:
                    raise ValueError('class frequencies are given both to the bbox head and to '
                                     'its loss; declare them once, on the head')
                kwargs['loss_cls'] = dict(loss_cls, class_freq=cf)
        if prior_prob is not None and not 0 < prior_prob < 1:
            raise ValueError(f'{type(self).__name__}: prior_prob must lie in (0, 1), got '
                             f'{prior_prob!r}')
        super().__init__(*args, **kwargs)
        self.class_freq: Optional[ClassFrequency] = cf
        self.prior_prob = prior_prob

    def check_class_names(self, names: Sequence[str]) -> None:
        """Checks the frequencies' category names against the dataset's classes."""
        if self.class_freq is not None:
            check_class_names(self.class_freq, names)

    def init_weights(self) -> None:
        super().init_weights()
        if self.prior_prob is None or not self.with_cls:
            return
        if not getattr(self.loss_cls, 'use_sigmoid', False):
            print_log(
                f'{type(self).__name__}: prior_prob is ignored with a softmax loss',
                logger='current')
            return
        # the logit whose probability is p under the loss's activation (a loss with another
        # activation than the sigmoid says it: GumbelOptimizedLoss.prior_logit)
        prior_logit = getattr(self.loss_cls, 'prior_logit', None)
        bias = prior_logit(self.prior_prob) if prior_logit is not None else -math.log(
            (1 - self.prior_prob) / self.prior_prob)
        nn.init.constant_(self.fc_cls.bias[:self.num_classes], bias)


@MODELS.register_module()
class FreqAwareShared2FCBBoxHead(FreqAwareMixin, Shared2FCBBoxHead):
    """mmdet's ``Shared2FCBBoxHead`` (Mask R-CNN FPN, every stage of mmdet's Cascade Mask R-CNN)
    with the class frequencies declared once (:class:`FreqAwareMixin`)."""


@MODELS.register_module()
class FreqAwareBBoxHead(FreqAwareMixin, BBoxHead):
    """mmdet's plain ``BBoxHead`` (the C4 head: average-pooled res5 features, one linear layer
    each for classes and boxes) with the class frequencies declared once
    (:class:`FreqAwareMixin`)."""


@MODELS.register_module()
class FreqAwareShared4Conv1FCBBoxHead(FreqAwareMixin, Shared4Conv1FCBBoxHead):
    """mmdet's ``Shared4Conv1FCBBoxHead`` (four convolutions and one fully connected layer, with
    group normalisation in mmdet's GN configs) with the class frequencies declared once
    (:class:`FreqAwareMixin`)."""
