"""Fast and exact LVIS evaluation.

:func:`lvis_eval` computes lvis-api's numbers (``LVISEval``, LVIS v0.5/v1 federated protocol,
300 detections per image) with faster-coco-eval's compiled matcher and accumulator in its LVIS
mode. The tests check every summary number against lvis-api to 1e-9. The work-arounds:

* LVISResults keeps the 300 best-scored detections of each image and regroups the list by image;
  we apply the same cap, in the same order, before handing the list over.
* faster-coco-eval's segm path crashes on images that have neither annotations nor a
  ``neg_category_ids`` key; such images can hold no evaluated detection, so detections on them
  are dropped first (lvis-api ignores them too) and the key is given an empty default.
* An empty result list (lvis-api raises) gives AP 0 for every category with ground truth.
* Per-category AP (precision averaged over IoU thresholds and recall points, as lvis-api's
  summaries do) is returned too, for the class-wise table and the plots.
"""
import copy
import os.path as osp
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmdet_eql.utils.io import ToolError, load_json

SUMMARY_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300', 'ARs@300',
                'ARm@300', 'ARl@300')


def _load(obj, what):
    if isinstance(obj, str):
        return load_json(obj, what=what, progress=False)
    return obj


def limit_dets_per_image(results: List[dict], max_dets: int = 300) -> List[dict]:
    """lvis-api's cap: per image, the ``max_dets`` best scores (stable), regrouped by image in
    first-appearance order."""
    per_img: Dict[int, List[dict]] = OrderedDict()
    for r in results:
        per_img.setdefault(r['image_id'], []).append(r)
    out = []
    for anns in per_img.values():
        if len(anns) > max_dets:
            anns = sorted(anns, key=lambda a: a['score'], reverse=True)[:max_dets]
        out.extend(anns)
    return out


def check_results(gt: dict, results: Sequence[dict], where: str = 'results') -> None:
    """Raises ToolError when results name images or categories the ground truth lacks."""
    img_ids = {im['id'] for im in gt['images']}
    cat_ids = {c['id'] for c in gt['categories']}
    for i, r in enumerate(results):
        if not isinstance(r, dict) or 'image_id' not in r or 'category_id' not in r \
                or 'score' not in r:
            raise ToolError(f'{where}[{i}] is not an LVIS result (needs image_id, category_id, '
                            'score and bbox or segmentation)')
        if r['image_id'] not in img_ids:
            raise ToolError(f'{where}[{i}] has image_id {r["image_id"]}, which the ground truth '
                            'does not contain: are the results for another dataset?')
        if r['category_id'] not in cat_ids:
            raise ToolError(f'{where}[{i}] has category_id {r["category_id"]}, which the ground '
                            'truth does not contain: are the results for another dataset?')


def _per_category_ap(precision: np.ndarray) -> np.ndarray:
    """(T, R, K, A, M) precision -> (K,) AP over IoU thresholds and recall points at area 'all'
    and the largest max-dets; -1 where the category has no ground truth."""
    p = precision[:, :, :, 0, -1]
    out = np.full(p.shape[2], -1.0)
    for k in range(p.shape[2]):
        v = p[:, :, k]
        v = v[v > -1]
        if v.size:
            out[k] = float(np.mean(v))
    return out


def _validated(gt, results, iou_type: str, gt_name: Optional[str]):
    """Loads and checks the ground truth and the results; errors name the file and field."""
    from mmdet_eql.utils.class_frequency import index_annotations

    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    gt_name = gt_name or (gt if isinstance(gt, str) else 'ground truth')
    gt = _load(gt, 'ground-truth file')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(gt, dict) or key not in gt:
            raise ToolError(f'{gt_name}: not an LVIS annotation file (no "{key}")')
    try:  # duplicate ids, annotations of unknown images or categories
        index_annotations(gt)
    except ValueError as e:
        raise ToolError(f'{gt_name}: {e}') from None
    res_name = results if isinstance(results, str) else 'results'
    results = _load(results, 'results file')
    if not isinstance(results, list):
        raise ToolError(f'{res_name}: expected a list of detections, got '
                        f'{type(results).__name__}')
    check_results(
        gt, results, where=osp.basename(res_name) if isinstance(res_name, str) else 'results')
    if iou_type == 'segm' and results and 'segmentation' not in results[0]:
        raise ToolError(f'{res_name}: segm evaluation needs "segmentation" in the results')
    return gt, results


def _federated(gt: dict, results: List[dict], max_dets: int):
    """The ground truth with default federated keys, and the results lvis-api evaluates: the
    ``max_dets`` best per image, then only (image, category) pairs verified present or absent.
    Dropping the others first changes no number and avoids faster-coco-eval's crash on images
    without annotations."""
    gt = dict(gt)
    gt['images'] = [dict(im) for im in gt['images']]
    for im in gt['images']:
        im.setdefault('neg_category_ids', [])
        im.setdefault('not_exhaustive_category_ids', [])
    results = limit_dets_per_image(list(results), max_dets)
    present = defaultdict(set)
    for a in gt['annotations']:
        present[a['image_id']].add(a['category_id'])
    neg = {im['id']: set(im['neg_category_ids']) for im in gt['images']}
    results = [
        copy.copy(r) for r in results
        if r['category_id'] in present[r['image_id']] or r['category_id'] in neg[r['image_id']]
    ]
    return gt, results


def _summary(stats) -> Dict[str, float]:
    """faster-coco-eval's lvis-style stats (one maxDets) as lvis-api's summary keys. Layout: AP,
    AP50, AP75, APs, APm, APl, AR@300 (+2 unused AR slots), ARs, ARm, ARl, AR50, AR75, APr, APc,
    APf."""
    s = stats
    out = dict(AP=s[0], AP50=s[1], AP75=s[2], APs=s[3], APm=s[4], APl=s[5])
    n_rng = 3
    num_max_dets = 3
    base = 2 * n_rng + num_max_dets + 5
    out.update(APr=s[base], APc=s[base + 1], APf=s[base + 2])
    ar_start = 3 + n_rng
    out['AR@300'] = s[ar_start]
    for i, lbl in enumerate(('s', 'm', 'l')):
        out[f'AR{lbl}@300'] = s[ar_start + num_max_dets + i]
    return {k: float(v) for k, v in out.items()}


def lvis_eval(gt: Union[str, dict],
              results: Union[str, List[dict]],
              iou_type: str = 'bbox',
              max_dets: int = 300,
              per_category: bool = False,
              gt_name: Optional[str] = None) -> dict:
    """Evaluates LVIS-format results exactly as lvis-api does, in compiled code.

    Args:
        gt: path to (or the loaded dict of) an LVIS-format annotation file.
        results: path to (or list of) detections in the LVIS results format.
        iou_type: 'bbox' or 'segm'.
        max_dets: detections kept per image (LVIS: 300).
        per_category: also return ``per_category``: {category_id: AP} (-1: no ground truth).
        gt_name: how errors name the ground truth (default: its path, or "ground truth").

    Returns:
        dict: AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ARs@300, ARm@300, ARl@300
        as floats in [0, 1] (-1 where undefined), and ``per_category`` when asked.
    """
    from faster_coco_eval import COCO, COCOeval_faster

    gt, results = _validated(gt, results, iou_type, gt_name)
    gt, results = _federated(gt, results, max_dets)
    coco_gt = COCO(gt)
    ev = COCOeval_faster(
        coco_gt,
        coco_gt.loadRes(results),
        iou_type,
        lvis_style=True,
        print_function=lambda *a: None)
    ev.params.maxDets = [max_dets]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    out = _summary(ev.all_stats)
    if per_category:
        cat_ids = sorted(c['id'] for c in gt['categories'])
        ap = _per_category_ap(ev.eval['precision'])
        out['per_category'] = {cid: float(a) for cid, a in zip(cat_ids, ap)}
    return out


def lvis_eval_reference(gt: Union[str, dict],
                        results: Union[str, List[dict]],
                        iou_type: str = 'bbox',
                        max_dets: int = 300) -> dict:
    """The same numbers from the pure-Python lvis-api (slow; for tests and benchmarks)."""
    import logging

    from lvis import LVIS, LVISEval, LVISResults

    import mmdet_eql.compat  # noqa: F401  (np.float fix)
    logging.getLogger('lvis').setLevel(logging.WARNING)
    if isinstance(gt, dict):
        lvis_gt = LVIS.__new__(LVIS)
        lvis_gt.logger = logging.getLogger('lvis')
        lvis_gt.dataset = copy.deepcopy(gt)
        lvis_gt._create_index()
    else:
        lvis_gt = LVIS(gt)
    res = copy.deepcopy(_load(results, 'results file'))
    ev = LVISEval(lvis_gt, LVISResults(lvis_gt, res, max_dets=max_dets), iou_type)
    ev.run()
    return {k: float(v) for k, v in ev.results.items()}


def summary_table(metrics: Dict[str, dict], keys: Optional[Sequence[str]] = None) -> str:
    """A plain-text table: one row per name in ``metrics``, AP columns in percent."""
    keys = list(keys or ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf'))
    width = max([len(n) for n in metrics] + [6])
    lines = [' '.join([f'{"":<{width}}'] + [f'{k:>7}' for k in keys])]
    for name, m in metrics.items():
        cells = [f'{100 * m[k]:7.1f}' if m.get(k, -1) >= 0 else f'{"-":>7}' for k in keys]
        lines.append(' '.join([f'{name:<{width}}'] + cells))
    return '\n'.join(lines)
