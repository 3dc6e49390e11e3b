"""``FastLVISMetric``: mmdet's ``LVISMetric`` with the compiled, exact evaluator, and the
large-vocabulary protocols (AP-fixed, AP-pool)."""
import itertools
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Sequence

import numpy as np
from mmdet.evaluation.metrics import LVISMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger
from terminaltables import AsciiTable

from mmdet_eql.evaluation.lvis_eval import (PROTOCOLS, check_uncapped, lvis_eval, summary_keys,
                                            summary_table, top_k_within)
from mmdet_eql.utils.io import load_json


def predictions_to_columns(preds: List[dict], cat_ids: Sequence[int], iou_type: str) -> dict:
    """mmdet's per-image predictions (img_id; bboxes x1, y1, x2, y2, scores, labels, and masks as
    RLE with mask_scores for segm; NumPy arrays) as :func:`lvis_eval`'s columns: label k is the
    category ``cat_ids[k]``, boxes x, y, w, h as mmdet's results2json writes them (float32
    values, width and height subtracted in float64)."""
    if not preds:
        return dict(image_id=[], category_id=[], score=[], bbox=np.zeros((0, 4)))
    cat_ids = np.asarray(cat_ids)
    boxes = np.concatenate([p['bboxes'] for p in preds]).astype(np.float64).reshape(-1, 4)
    boxes[:, 2:] -= boxes[:, :2]
    cols = dict(
        image_id=np.concatenate(
            [np.full(len(p['labels']), p['img_id'], dtype=np.int64) for p in preds]),
        category_id=cat_ids[np.concatenate([p['labels'] for p in preds]).astype(np.int64)],
        score=np.concatenate([
            p.get('mask_scores', p['scores']) if iou_type == 'segm' else p['scores'] for p in preds
        ]).astype(np.float64),
        bbox=boxes)
    if iou_type == 'segm':
        cols['segmentation'] = [
            m if isinstance(m['counts'], str) else dict(m, counts=m['counts'].decode())
            for p in preds for m in p['masks']
        ]
    return cols


@METRICS.register_module()
class FastLVISMetric(LVISMetric):
    """A drop-in replacement for mmdet's ``LVISMetric`` (same arguments and metric names, e.g.
    ``lvis/bbox_APr``), computing lvis-api's numbers with :func:`mmdet_eql.evaluation.lvis_eval`.

    The 'proposal' and 'proposal_fast' metrics are left to ``LVISMetric``. Values are not rounded
    (``LVISMetric`` rounds to 3 decimals).

    Args (beyond ``LVISMetric``'s):
        protocol (str): 'standard' (lvis-api: 300 detections per image) or 'fixed' (AP-fixed:
            no per-image limit, each category's ``dets_per_cat`` best over the dataset). With
            'fixed' the predictions kept in memory are cut to each category's best
            ``dets_per_cat`` (by box and by mask score) whenever they double, so memory stays
            near ``dets_per_cat`` x classes detections whatever the number of images.
        dets_per_cat (int): AP-fixed's detections per category (LVIS challenge: 10,000).
        pooled (bool): also report AP-pool (``APpool``, ``APpool_r/c/f``) over the protocol's
            detections.
        allow_capped (bool): with 'fixed', evaluate predictions that look capped per image (the
            counts before any cut; :func:`~mmdet_eql.evaluation.lvis_eval.check_uncapped`
            refuses them otherwise, naming the fix).
    """

    def __init__(self,
                 *args,
                 protocol: str = 'standard',
                 dets_per_cat: int = 10000,
                 pooled: bool = False,
                 allow_capped: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if protocol not in PROTOCOLS:
            raise ValueError(f'FastLVISMetric: protocol must be one of {PROTOCOLS}, got '
                             f'{protocol!r}')
        if not isinstance(dets_per_cat, int) or dets_per_cat < 1:
            raise ValueError(f'FastLVISMetric: dets_per_cat must be a positive integer, got '
                             f'{dets_per_cat!r}')
        self.protocol = protocol
        self.dets_per_cat = dets_per_cat
        self.pooled = pooled
        self.allow_capped = allow_capped
        self._dets_held = 0  # detections held in self.results
        self._dets_after_cut = 0  # ... right after the last cut

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        if not self.results:  # a new evaluation (mmengine clears the list after each)
            self._dets_held = self._dets_after_cut = 0
        start = len(self.results)
        super().process(data_batch, data_samples)
        if self.protocol != 'fixed':
            return
        for _, r in self.results[start:]:  # the count before any cut, for check_uncapped
            r['num_dets'] = len(r['labels'])
            self._dets_held += r['num_dets']
        if self._dets_held > 2 * max(self._dets_after_cut, self.dets_per_cat):
            self._cut_to_top_per_category()

    def _cut_to_top_per_category(self) -> None:
        """Keeps, over all predictions held, each category's ``dets_per_cat`` best by box score
        and by mask score (ties: the earlier image, then the earlier detection, the order in
        which the dataset-wide selection breaks them, so nothing it would keep is dropped)."""
        preds = [r for _, r in self.results]
        sizes = [len(p['labels']) for p in preds]
        labels = np.concatenate([p['labels'] for p in preds])
        keep = top_k_within(labels, np.concatenate([p['scores'] for p in preds]), self.dets_per_cat)
        if all('mask_scores' in p for p in preds):
            mask_scores = np.concatenate([p['mask_scores'] for p in preds])
            keep |= top_k_within(labels, mask_scores, self.dets_per_cat)
        for p, k in zip(preds, np.split(keep, np.cumsum(sizes)[:-1])):
            if k.all():
                continue
            for key in ('bboxes', 'scores', 'labels', 'mask_scores'):
                if key in p:
                    p[key] = p[key][k]
            if 'masks' in p:
                p['masks'] = [m for m, kk in zip(p['masks'], k.tolist()) if kk]
        self._dets_held = self._dets_after_cut = int(keep.sum())

    def _columns(self, preds: List[dict], iou_type: str) -> dict:
        return predictions_to_columns(preds, self.cat_ids, iou_type)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if any(m in ('proposal', 'proposal_fast') for m in self.metrics):
            return super().compute_metrics(results)
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        if self._lvis_api is None:
            import tempfile
            logger.info('Converting ground truth to coco format...')
            with tempfile.TemporaryDirectory() as tmp:
                gt_path = self.gt_to_coco_json(
                    gt_dicts=gts, outfile_prefix=self.outfile_prefix or osp.join(tmp, 'results'))
                gt = load_json(gt_path, what='ground-truth file', progress=False)
        else:
            gt = self._lvis_api.dataset
        if self.cat_ids is None:
            self.cat_ids = sorted(c['id'] for c in gt['categories'])
        eval_results = OrderedDict()
        if self.outfile_prefix is not None:  # the result files, as mmdet writes them
            self.results2json(preds, self.outfile_prefix)
        if self.format_only:
            logger.info(f'results are saved in {osp.dirname(self.outfile_prefix)}')
            return eval_results

        names = {c['id']: c['name'] for c in gt['categories']}
        keys = summary_keys(self.protocol, pooled=self.pooled)
        metric_items = self.metric_items or list(keys[:9] + keys[13:])
        for metric in self.metrics:
            logger.info(f'Evaluating {metric} ({self.protocol} protocol'
                        f'{", pooled" if self.pooled else ""})...')
            if self.protocol == 'fixed' and not self.allow_capped:
                check_uncapped([p.get('num_dets', len(p['labels'])) for p in preds],
                               len(gt['categories']),
                               f'FastLVISMetric(protocol=\'fixed\') on {len(preds)} images')
            res = lvis_eval(
                gt,
                self._columns(list(preds), metric),
                iou_type=metric,
                per_category=self.classwise,
                protocol=self.protocol,
                dets_per_cat=self.dets_per_cat,
                pooled=self.pooled,
                allow_capped=True)  # checked above, on the counts before the running cut
            if self.classwise:
                per_cat = [(names[c], f"{ap:0.3f}" if ap >= 0 else 'nan')
                           for c, ap in res['per_category'].items()]
                for c, ap in res['per_category'].items():
                    eval_results[f'{names[c]}_precision'] = ap if ap >= 0 else float('nan')
                num_columns = min(6, len(per_cat) * 2)
                flat = list(itertools.chain(*per_cat))
                rows = itertools.zip_longest(*[flat[i::num_columns] for i in range(num_columns)])
                table = AsciiTable([['category', 'AP'] * (num_columns // 2)] + list(rows))
                logger.info('\n' + table.table)
            for k in metric_items:
                if k not in res:
                    raise KeyError(f'metric item {k!r} is not supported; choose from '
                                   f'{list(keys)}')
                eval_results[f'{metric}_{k}'] = float(res[k])
            logger.info(f'{metric}:\n' + summary_table({metric: res}, keys[:9] + keys[13:]))
        return eval_results


__all__ = ['FastLVISMetric', 'predictions_to_columns']
