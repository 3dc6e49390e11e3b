"""A plain-Python LVIS evaluator written from the definitions, for tests and benchmarks only.

It is slow on purpose: one loop per (image, category) pair and per IoU threshold, no vectorised
or compiled code, so that a reader can check it line by line against the definitions below.
:func:`mmdet_eql.evaluation.lvis_eval` must give the same numbers (tests, to 1e-9).

Definitions (LVIS, Gupta et al. 2019; AP-fixed and AP-pool, Dave et al. 2021, arXiv 2102.01066):

* Which detections count. ``standard``: each image keeps its ``max_dets`` best-scored detections
  (300 on LVIS). ``fixed``: no per-image limit; each category keeps its ``dets_per_cat`` best-scored
  detections over the whole dataset (10,000 on LVIS). Ties in score keep the results' order.
* Federated rules. A category is evaluated on an image only if it is verified there: present (it
  has annotations) or in the image's ``neg_category_ids``; detections elsewhere are dropped. An
  unmatched detection of a category in the image's ``not_exhaustive_category_ids`` is ignored.
* Matching, per (image, category) and IoU threshold t: detections in decreasing score (ties in
  the results' order) take the unmatched annotation of highest IoU >= t, annotations outside the
  area range last and only when no other one is left (COCO's greedy rule); a detection matched to
  such an annotation, or unmatched and outside the area range, is ignored.
* A precision/recall curve per category (AP) or per pool of categories (AP-pool): the
  detections of all its (image, category) pairs in decreasing score (ties: image id, then
  category id, then the pair's order), true and false positives counted cumulatively, recall
  over the non-ignored annotations, precision made non-increasing from the right, read at the 101
  recall points 0, 0.01, ..., 1 (0 past the last recall reached). AP averages the readings over
  the 10 IoU thresholds 0.5:0.05:0.95 and over categories with annotations (APr/c/f: of the
  frequency group); AP-pool averages one curve's readings (area 'all') over the thresholds.
* AR: the last recall of each curve, averaged like AP.
"""
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

# the thresholds as floats exactly as lvis-api and COCO make them (np.linspace: 0.07 is
# 0.07000000000000001 there, and a recall of exactly 7/100 must compare with that float)
IOU_THRS = [float(t) for t in np.linspace(0.5, 0.95, 10)]
REC_THRS = [float(r) for r in np.linspace(0.0, 1.0, 101)]
AREA_RNGS = {
    'all': (0, 1e10),
    'small': (0, 32**2),
    'medium': (32**2, 96**2),
    'large': (96**2, 1e10)
}
POOLS = ('all', 'r', 'c', 'f')


def kept_by_protocol(results: Sequence[dict],
                     protocol: str = 'standard',
                     max_dets: int = 300,
                     dets_per_cat: int = 10000) -> List[dict]:
    """The detections a protocol evaluates, in the results' order."""
    order = sorted(range(len(results)), key=lambda i: -results[i]['score'])  # stable
    keep = set()
    count: Dict[int, int] = defaultdict(int)
    group = 'image_id' if protocol == 'standard' else 'category_id'
    limit = max_dets if protocol == 'standard' else dets_per_cat
    for i in order:
        key = results[i][group]
        if limit < 0 or count[key] < limit:
            count[key] += 1
            keep.add(i)
    return [results[i] for i in range(len(results)) if i in keep]


def box_iou(d, g) -> float:
    """IoU of two boxes given as (x, y, width, height): the definition every overlap here is
    measured with (the evaluators, the benchmark's rare-object figure and table)."""
    dx, dy, dw, dh = d
    gx, gy, gw, gh = g
    iw = min(dx + dw, gx + gw) - max(dx, gx)
    ih = min(dy + dh, gy + gh) - max(dy, gy)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (dw * dh + gw * gh - inter)


def _iou(dt: dict, gt: dict, iou_type: str) -> float:
    if iou_type == 'bbox':
        return box_iou(dt['bbox'], gt['bbox'])
    from pycocotools import mask as mask_utils  # the region overlap of two masks
    d = dt['segmentation']
    g = gt['segmentation']
    if isinstance(g, list):  # polygons of the ground truth
        g = mask_utils.merge(mask_utils.frPyObjects(g, *d['size']))
    return float(mask_utils.iou([d], [g], [0])[0][0])


def _det_area(dt: dict) -> float:
    """A detection's area: its box's when it has one (lvis-api's rule, for segm too), else its
    mask's."""
    if 'bbox' in dt:
        return dt['bbox'][2] * dt['bbox'][3]
    from pycocotools import mask as mask_utils
    return float(mask_utils.area(dt['segmentation']))


def _match_pair(gts, dts, iou_type, area, not_exhaustive):
    """One (image, category) pair at one area range: per IoU threshold, for each detection in
    score order, whether it is a true positive, and whether it is ignored; the annotations that
    count."""
    lo, hi = AREA_RNGS[area]
    gt_ignored = [not (lo <= g['area'] <= hi) for g in gts]
    gts = [g for g, ig in sorted(zip(gts, gt_ignored), key=lambda p: p[1])]  # ignored last
    gt_ignored = sorted(gt_ignored)
    dts = sorted(dts, key=lambda d: -d['score'])
    ious = [[_iou(d, g, iou_type) for g in gts] for d in dts]
    per_thr = []
    for t in IOU_THRS:
        taken = [False] * len(gts)
        rows = []
        for di, d in enumerate(dts):
            best, m = min(t, 1 - 1e-10), -1
            for gi in range(len(gts)):
                if taken[gi]:
                    continue
                if m > -1 and not gt_ignored[m] and gt_ignored[gi]:
                    break
                if ious[di][gi] < best:
                    continue
                best, m = ious[di][gi], gi
            if m > -1:
                taken[m] = True
                rows.append((True, gt_ignored[m]))
            else:
                outside = not (lo <= _det_area(d) <= hi)
                rows.append((False, outside or not_exhaustive))
        per_thr.append(rows)
    num_gt = sum(1 for ig in gt_ignored if not ig)
    return [d['score'] for d in dts], per_thr, num_gt


def _curve(pairs) -> Optional[tuple]:
    """(precision at the 101 recall points per IoU threshold, final recall per threshold) of the
    pooled pairs [(scores, per_thr, num_gt)] in the order given, or None without annotations."""
    num_gt = sum(p[2] for p in pairs)
    if num_gt == 0:
        return None
    flat = [(s, pi, di) for pi, p in enumerate(pairs) for di, s in enumerate(p[0])]
    flat.sort(key=lambda x: -x[0])  # stable: ties keep the pairs' order
    precisions, recalls = [], []
    for ti in range(len(IOU_THRS)):
        tp = fp = 0
        rc, pr = [], []
        for _, pi, di in flat:
            matched, ignored = pairs[pi][1][ti][di]
            if ignored:
                continue
            if matched:
                tp += 1
            else:
                fp += 1
            rc.append(tp / num_gt)
            pr.append(tp / (tp + fp + np.spacing(1)))
        for i in range(len(pr) - 1, 0, -1):
            pr[i - 1] = max(pr[i - 1], pr[i])
        row = []
        for r in REC_THRS:
            idx = next((i for i, x in enumerate(rc) if x >= r), None)
            row.append(pr[idx] if idx is not None else 0.0)
        precisions.append(row)
        recalls.append(rc[-1] if rc else 0.0)
    return precisions, recalls


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else -1.0


def lvis_eval_from_definition(gt: dict,
                              results: Sequence[dict],
                              iou_type: str = 'bbox',
                              protocol: str = 'standard',
                              max_dets: int = 300,
                              dets_per_cat: int = 10000,
                              pooled: bool = False) -> dict:
    """The summary numbers of :func:`mmdet_eql.evaluation.lvis_eval`, computed as defined above.

    Returns AP, AP50, AP75, APs, APm, APl, APr, APc, APf, the AR keys (``AR@300``... for
    'standard', ``AR``... for 'fixed'), ``per_category`` {id: AP} and, with ``pooled``,
    APpool, APpool_r, APpool_c, APpool_f.
    """
    results = kept_by_protocol(results, protocol, max_dets, dets_per_cat)
    images = sorted(gt['images'], key=lambda im: im['id'])
    cats = sorted(gt['categories'], key=lambda c: c['id'])
    gts = defaultdict(list)
    for a in gt['annotations']:
        gts[a['image_id'], a['category_id']].append(a)
    dts = defaultdict(list)
    for r in results:
        dts[r['image_id'], r['category_id']].append(r)

    present = defaultdict(set)  # image id -> its annotated categories
    for i, c in gts:
        present[i].add(c)
    # (area, category id) -> {image id: (scores, per_thr, num_gt)} over the verified pairs
    evaluated = defaultdict(dict)
    for im in images:
        verified = present[im['id']] | set(im.get('neg_category_ids', []))
        not_exhaustive = set(im.get('not_exhaustive_category_ids', []))
        for c in cats:
            cid = c['id']
            g, d = gts.get((im['id'], cid), []), dts.get((im['id'], cid), [])
            if cid not in verified or (not g and not d):
                continue
            for area in AREA_RNGS:
                evaluated[area, cid][im['id']] = _match_pair(g, d, iou_type, area, cid
                                                             in not_exhaustive)

    # one curve per category: its pairs in image order (dicts keep insertion order)
    curves = {key: _curve(list(pairs.values())) for key, pairs in evaluated.items()}
    groups = {c['id']: c.get('frequency') for c in cats}

    def ap(area='all', thr=None, group=None):
        vals = []
        for (a, cid), cv in curves.items():
            if a != area or cv is None or (group and groups[cid] != group):
                continue
            for ti, row in enumerate(cv[0]):
                if thr is None or math.isclose(IOU_THRS[ti], thr):
                    vals.extend(row)
        return _mean(vals)

    def ar(area='all'):
        return _mean(r for (a, _), cv in curves.items() if a == area and cv for r in cv[1])

    ar_key = 'AR' if protocol == 'fixed' else f'AR@{max_dets}'
    out = dict(
        AP=ap(),
        AP50=ap(thr=0.5),
        AP75=ap(thr=0.75),
        APs=ap('small'),
        APm=ap('medium'),
        APl=ap('large'),
        APr=ap(group='r'),
        APc=ap(group='c'),
        APf=ap(group='f'))
    out[ar_key] = ar()
    for area in ('small', 'medium', 'large'):
        out[ar_key[:2] + area[0] + ar_key[2:]] = ar(area)
    out['per_category'] = {}
    for c in cats:
        cv = curves.get(('all', c['id']))
        out['per_category'][c['id']] = _mean(v for row in cv[0] for v in row) if cv else -1.0
    if pooled:
        for pool in POOLS:
            pairs = []
            for im in images:  # image order, then category order within an image
                for c in cats:
                    if pool != 'all' and c.get('frequency') != pool:
                        continue
                    pair = evaluated.get(('all', c['id']), {}).get(im['id'])
                    if pair is not None:
                        pairs.append(pair)
            cv = _curve(pairs)
            key = 'APpool' if pool == 'all' else f'APpool_{pool}'
            out[key] = _mean(v for row in cv[0] for v in row) if cv else -1.0
    return out


__all__ = ['lvis_eval_from_definition', 'kept_by_protocol', 'box_iou']
