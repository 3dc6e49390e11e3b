"""mmdet's Open Images metric with the EQL paper's AP1..AP5 (its Table 6)."""
from collections import OrderedDict
from typing import Optional, Sequence, Union

import numpy as np
from mmdet.evaluation.functional import eval_map
from mmdet.evaluation.functional.mean_ap import tpfp_openimages
from mmdet.evaluation.metrics import OpenImagesMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger, print_log

from mmdet_eql.utils.class_frequency import resolve_class_freq
from mmdet_eql.utils.openimages import frequency_groups


def group_aps(class_results: Sequence[dict], groups) -> list:
    """Each group's AP: the mean AP of its classes that have ground truth in the evaluated set (as
    mmdet's ``eval_map`` averages all classes), and how many classes that mean holds."""
    out = []
    for labels in groups:
        aps = [float(class_results[i]['ap']) for i in labels if class_results[i]['num_gts'] > 0]
        out.append((float(np.mean(aps)) if aps else float('nan'), len(aps), len(labels)))
    return out


@METRICS.register_module()
class OpenImagesGroupMetric(OpenImagesMetric):
    """mmdet's ``OpenImagesMetric`` (AP at IoU 0.5 with group-of boxes and parent classes, the
    challenge's protocol) that also reports the EQL paper's Table 6 groups: the classes sorted by
    training frequency (``class_freq``: the frequency file of the train split, or a preset) cut
    into ``num_groups`` equal groups, AP1 the most frequent, AP<num_groups> the fewest; each
    group's AP is the mean AP of its classes with ground truth in the evaluated set, and the log
    says how many that is. Keys: ``AP50``, ``mAP`` as mmdet's, and ``AP1`` ... ``AP5``.

    Args:
        class_freq (str | Sequence[float]): the training split's class frequencies.
        num_groups (int): how many groups (the paper: 5 of 100 classes).
        **kwargs: the arguments of ``OpenImagesMetric``.
    """

    def __init__(self,
                 class_freq: Union[str, Sequence[float]],
                 num_groups: int = 5,
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(prefix=prefix, **kwargs)
        self.class_freq = resolve_class_freq(class_freq)
        self.num_groups = num_groups

    def compute_metrics(self, results: list) -> dict:
        logger = MMLogger.get_current_instance()
        classes = self.dataset_meta.get('classes') or ()
        if len(classes) != len(self.class_freq):
            raise ValueError(f'OpenImagesGroupMetric: the class frequencies from '
                             f'{self.class_freq.source} have {len(self.class_freq)} classes, the '
                             f'dataset {len(classes)}')
        groups = frequency_groups(self.class_freq.freq, self.num_groups)
        gts, preds = zip(*results)
        out = OrderedDict()
        mean_aps, per_threshold = [], []
        for iou_thr, ioa_thr in zip(self.iou_thrs, self.ioa_thrs):
            mean_ap, class_results = eval_map(
                preds,
                gts,
                scale_ranges=self.scale_ranges,
                iou_thr=iou_thr,
                ioa_thr=ioa_thr,
                # the dataset's own class names in the printed table (mmdet's metric names its
                # table by a built-in list); the Open Images matching, as mmdet's for oid_v6
                dataset=list(classes),
                tpfp_fn=tpfp_openimages,
                logger=logger,
                use_group_of=self.use_group_of)
            mean_aps.append(mean_ap)
            out[f'AP{int(iou_thr * 100):02d}'] = round(mean_ap, 3)
            per_threshold.append(group_aps(class_results, groups))
        out['mAP'] = sum(mean_aps) / len(mean_aps)
        for g in range(self.num_groups):
            values = [t[g][0] for t in per_threshold]
            out[f'AP{g + 1}'] = float(np.mean(values))
        lines = [
            f'AP{g + 1}: {100 * out[f"AP{g + 1}"]:.2f} over {n} of {size} classes with ground '
            'truth' for g, (_, n, size) in enumerate(per_threshold[0])
        ]
        print_log(
            f'Open Images AP by training frequency ({self.num_groups} groups, classes sorted by '
            f'f from {self.class_freq.source}, AP1 the most frequent): ' + '; '.join(lines),
            logger='current')
        return out
