"""Input checks shared by the project's classification losses."""
from numbers import Real

import numpy as np
import torch
from torch import Tensor


def check_finite_and_labels(loss_name: str, cls_score: Tensor, labels: Tensor,
                            num_classes: int) -> None:
    """Raises on labels outside [0, C] and on NaN or infinite scores.

    One device synchronisation: the bad-label count and the sum of all scores (non-finite exactly
    when some score is NaN or infinite) come back together; the exact count only on failure.

    Raises:
        ValueError: labels outside [0, num_classes] (C is background).
        FloatingPointError: NaN or infinite scores, with their count.
    """
    if not labels.numel():
        return
    bad_labels, total = torch.stack([
        ((labels < 0) | (labels > num_classes)).sum().to(torch.float64),
        cls_score.detach().sum().to(torch.float64)
    ]).tolist()
    if bad_labels:
        raise ValueError(f'{loss_name}: {int(bad_labels)} labels lie outside [0, {num_classes}] '
                         '(0..C-1 classes, C background)')
    if not np.isfinite(total):
        bad = int((~torch.isfinite(cls_score)).sum())
        if bad:
            raise FloatingPointError(f'{loss_name}: cls_score has {bad} NaN or infinite entries '
                                     f'of {cls_score.numel()}')


def check_loss_args(loss_name: str, num_classes, use_sigmoid: bool, reduction: str,
                    **non_negative: Real) -> None:
    """The constructor checks the project's sigmoid losses share: num_classes a positive int,
    use_sigmoid True (False usually leaked from a CrossEntropyLoss base config), a known reduction,
    and the named hyper-parameters numbers >= 0."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f'{loss_name}: num_classes must be a positive int, got {num_classes!r}')
    if not use_sigmoid:
        raise ValueError(f'{loss_name} is a sigmoid loss: use_sigmoid=False is not supported (it '
                         'probably leaked from a CrossEntropyLoss base; use _delete_=True)')
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(f"{loss_name}: reduction must be 'none', 'mean' or 'sum', got "
                         f'{reduction!r}')
    for name, value in non_negative.items():
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
                or value < 0:
            raise ValueError(f'{loss_name}: {name} must be a finite number >= 0, got {value!r}')


def roi_accuracy(class_logits: Tensor, is_fg_pred: Tensor, labels: Tensor) -> dict:
    """Accuracy (%) of argmax over the (N, C) class logits on foreground RoIs (labels < C), and of
    the (N,) foreground decision ``is_fg_pred`` over all RoIs: the bbox head's custom_accuracy."""
    fg = labels < class_logits.size(1)
    acc_cls = ((class_logits.argmax(1) == labels) & fg).sum() * 100.0 / fg.sum().clamp(min=1)
    acc_objectness = (is_fg_pred == fg).float().mean() * 100.0 if labels.numel() else \
        class_logits.new_zeros(())
    return dict(acc_cls=acc_cls, acc_objectness=acc_objectness)


class CWideSigmoidHeadMixin:
    """What mmdet's bbox head asks of a sigmoid loss whose classifier has C outputs and no
    background logit (EQL, the federated loss): C channels, scores with a zero background column
    appended, and accuracy of argmax on foreground RoIs plus the score >= 0.5 foreground
    decision. Set ``custom_cls_channels``, ``custom_activation`` and ``custom_accuracy`` True."""

    num_classes: int

    def get_cls_channels(self, num_classes: int) -> int:
        """One output per foreground class (no background logit)."""
        assert num_classes == self.num_classes
        return num_classes

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C) logits -> (N, C + 1) scores: sigmoid, then a zero background column."""
        scores = torch.sigmoid(cls_score)
        return torch.cat([scores, scores.new_zeros(scores.size(0), 1)], dim=1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> dict:
        """Accuracy (%) of argmax-over-classes on foreground RoIs, and of score >= 0.5 as the
        foreground/background decision over all RoIs."""
        return roi_accuracy(cls_score, cls_score.max(1).values >= 0, labels)  # sigmoid >= 0.5


class ObjectnessSigmoidHeadMixin:
    """What mmdet's bbox head asks of a sigmoid loss whose classifier has C + 1 outputs, the last
    an objectness (background) logit (EQLv2, ECM): C + 1 channels, class scores
    s(z_j) (1 - s(z_bg)) with s(z_bg) last (mmdet's bbox head drops it), and accuracy of argmax on
    foreground RoIs plus the s(z_bg) < 0.5 foreground decision. Set ``custom_cls_channels``,
    ``custom_activation`` and ``custom_accuracy`` True."""

    num_classes: int

    def get_cls_channels(self, num_classes: int) -> int:
        """C + 1: one logit per class and the objectness (background) logit."""
        assert num_classes == self.num_classes
        return num_classes + 1

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """(N, C + 1) logits -> (N, C + 1) scores: s(z_j) (1 - s(z_bg)) for the classes, and
        s(z_bg) in the last column (mmdet's bbox head drops it)."""
        prob = torch.sigmoid(cls_score.float())
        bg = prob[:, -1:]
        return torch.cat([prob[:, :-1] * (1 - bg), bg], dim=1)

    def get_accuracy(self, cls_score: Tensor, labels: Tensor) -> dict:
        """Accuracy (%) of argmax-over-classes on foreground RoIs, and of s(z_bg) < 0.5 as the
        foreground decision over all RoIs."""
        return roi_accuracy(cls_score[:, :-1], cls_score[:, -1] < 0, labels)
