"""Input checks shared by the project's classification losses."""
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
