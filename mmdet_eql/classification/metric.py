"""Top-1 accuracy of a long-tailed classifier, overall and by shot group."""
from typing import Dict, List, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric

#: ImageNet-LT's groups (Liu et al. 2019): many-shot > 100 train images, medium-shot 20-100,
#: few-shot < 20
MANY, FEW = 100, 20


def shot_groups(train_image_counts: Sequence[int]) -> List[str]:
    """'many' (> 100 train images), 'medium' (20-100) or 'few' (< 20) for each class."""
    return ['many' if n > MANY else 'few' if n < FEW else 'medium' for n in train_image_counts]


@METRICS.register_module()
class LongTailAccuracy(BaseMetric):
    """Top-1 accuracy (%) over the val samples, and over the samples of many-, medium- and
    few-shot classes (their train image counts: the dataset's metainfo ``train_image_counts``),
    as ImageNet-LT reports it; a group without classes is reported as -1. Also the mean of the
    per-class accuracies (on a balanced val: the same as top-1)."""

    default_prefix = 'cls'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            self.results.append((int(s['pred_label']), int(s['gt_label'])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        counts = (self.dataset_meta or {}).get('train_image_counts')
        if counts is None:
            raise ValueError('LongTailAccuracy needs the dataset metainfo "train_image_counts" '
                             '(LongTailClsDataset and CIFAR100LTDataset set it)')
        pred, gt = np.array(results, dtype=np.int64).reshape(-1, 2).T
        correct = pred == gt
        groups = np.array(shot_groups(counts))
        out = dict(top1=100 * float(correct.mean()) if len(gt) else -1.0)
        for g in ('many', 'medium', 'few'):
            mask = groups[gt] == g
            out[f'{g}_shot'] = 100 * float(correct[mask].mean()) if mask.any() else -1.0
        per_class = [correct[gt == c].mean() for c in range(len(counts)) if (gt == c).any()]
        out['mean_class'] = 100 * float(np.mean(per_class)) if per_class else -1.0
        return out
