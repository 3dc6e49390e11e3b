"""``FastLVISMetric``: mmdet's ``LVISMetric`` with the compiled, exact evaluator."""
import itertools
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict

from mmdet.evaluation.metrics import LVISMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger
from terminaltables import AsciiTable

from mmdet_eql.evaluation.lvis_eval import SUMMARY_KEYS, lvis_eval, summary_table
from mmdet_eql.utils.io import load_json


@METRICS.register_module()
class FastLVISMetric(LVISMetric):
    """A drop-in replacement for mmdet's ``LVISMetric`` (same arguments and metric names, e.g.
    ``lvis/bbox_APr``), computing lvis-api's numbers with :func:`mmdet_eql.evaluation.lvis_eval`.

    The 'proposal' and 'proposal_fast' metrics are left to ``LVISMetric``. Values are not rounded
    (``LVISMetric`` rounds to 3 decimals).
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if any(m in ('proposal', 'proposal_fast') for m in self.metrics):
            return super().compute_metrics(results)
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        tmp_dir = None
        if self.outfile_prefix is None:
            tmp_dir = tempfile.TemporaryDirectory()
            outfile_prefix = osp.join(tmp_dir.name, 'results')
        else:
            outfile_prefix = self.outfile_prefix
        if self._lvis_api is None:
            logger.info('Converting ground truth to coco format...')
            gt_path = self.gt_to_coco_json(gt_dicts=gts, outfile_prefix=outfile_prefix)
            gt = load_json(gt_path, what='ground-truth file', progress=False)
        else:
            gt = self._lvis_api.dataset
        if self.cat_ids is None:
            self.cat_ids = sorted(c['id'] for c in gt['categories'])
        result_files = self.results2json(preds, outfile_prefix)
        eval_results = OrderedDict()
        if self.format_only:
            logger.info(f'results are saved in {osp.dirname(outfile_prefix)}')
            return eval_results

        names = {c['id']: c['name'] for c in gt['categories']}
        metric_items = self.metric_items or list(SUMMARY_KEYS[:9])
        for metric in self.metrics:
            logger.info(f'Evaluating {metric}...')
            dets = load_json(result_files[metric], what='results file', progress=False)
            res = lvis_eval(gt, dets, iou_type=metric, per_category=self.classwise)
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
                                   f'{list(SUMMARY_KEYS)}')
                eval_results[f'{metric}_{k}'] = float(res[k])
            logger.info(f'{metric}:\n' + summary_table({metric: res}, SUMMARY_KEYS[:9]))
        if tmp_dir is not None:
            tmp_dir.cleanup()
        return eval_results


__all__ = ['FastLVISMetric']
