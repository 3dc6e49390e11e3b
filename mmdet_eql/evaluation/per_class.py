"""Per-class answers for any model's detections: which classes (above all rare ones) it misses.

:func:`per_class_table` gives, for each category of the ground truth, its frequency group,
training image count, whether a lambda protects it, AP and AP50 (lvis_eval's own accumulated
arrays, so they are the numbers behind its summary), recall (over the IoU thresholds, and at 0.5),
val instances and how many of them a detection of their own class finds (IoU >= 0.5 anywhere in
the evaluated list), and where its unmatched detections land (:func:`false_positive_destinations`:
the class of the object they overlap at IoU >= 0.5, else the background). :func:`views` answers
"which rare classes get nothing", "which classes fall furthest below what their frequency
predicts" and "where do a rare class's false positives go"; :func:`compare` sets two models side
by side. The benchmark's rare-object counts come from :func:`objects_found` too.
"""
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmdet_eql.evaluation.lvis_eval import box_ious, mean_defined

#: the IoU at which an object counts as found and a detection as landing on an object
IOU_FOUND = 0.5


def _ious(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(D, G) IoU of (D, 4) and (G, 4) x, y, w, h boxes: the evaluator's own."""
    return box_ious(d[:, None, :], g[None, :, :])


def _boxes(rows: Sequence[dict], key: str = 'bbox') -> np.ndarray:
    return np.asarray([r[key] for r in rows], dtype=np.float64).reshape(-1, 4)


def objects_found(annotations: Sequence[dict],
                  dets: Sequence[dict],
                  categories: Optional[set] = None) -> Dict[int, List[int]]:
    """{category id: [val objects, objects found]}: an object is found when a detection of its own
    class on its image overlaps it at IoU >= IOU_FOUND (anywhere in the list, whatever its score);
    crowd regions are not objects. Only ``categories`` when given."""
    by_key = defaultdict(list)
    for d in dets:
        if categories is None or d['category_id'] in categories:
            by_key[(d['image_id'], d['category_id'])].append(d)
    objs = defaultdict(list)
    for a in annotations:
        if not a.get('iscrowd', 0) and (categories is None or a['category_id'] in categories):
            objs[(a['image_id'], a['category_id'])].append(a)
    out = defaultdict(lambda: [0, 0])
    for key, anns in objs.items():
        out[key[1]][0] += len(anns)
        if key in by_key:
            hit = (_ious(_boxes(by_key[key]), _boxes(anns)) >= IOU_FOUND).any(axis=0)
            out[key[1]][1] += int(hit.sum())
    return dict(out)


def false_positive_destinations(annotations: Sequence[dict],
                                dets: Sequence[dict]) -> Dict[int, Counter]:
    """{category id: Counter(destination)} of each detection that overlaps no object of its own
    class at IoU >= IOU_FOUND: the category id of the object of another class it overlaps most
    (at IoU >= IOU_FOUND), else 'background'."""
    by_image = defaultdict(list)
    for a in annotations:
        if not a.get('iscrowd', 0):
            by_image[a['image_id']].append(a)
    dets_by_image = defaultdict(list)
    for d in dets:
        dets_by_image[d['image_id']].append(d)
    out = defaultdict(Counter)
    for image_id, ds in dets_by_image.items():
        anns = by_image.get(image_id, [])
        if not anns:
            for d in ds:
                out[d['category_id']]['background'] += 1
            continue
        iou = _ious(_boxes(ds), _boxes(anns))
        same = np.asarray([[d['category_id'] == a['category_id'] for a in anns] for d in ds])
        own = (np.where(same, iou, 0.0) >= IOU_FOUND).any(axis=1)
        other = np.where(same, -1.0, iou)
        best = other.argmax(axis=1)
        for i, d in enumerate(ds):
            if own[i]:
                continue
            j = int(best[i])
            dest = anns[j]['category_id'] if other[i, j] >= IOU_FOUND else 'background'
            out[d['category_id']][dest] += 1
    return dict(out)


def per_class_table(gt: dict,
                    arrays: dict,
                    evaluated: Sequence[dict],
                    train: Optional[Dict[int, dict]] = None,
                    lambda_: Optional[float] = None) -> List[dict]:
    """One row a category (id order) from lvis_eval's ``arrays`` (``return_arrays=True``) and its
    evaluated detections. ``train``: {id: the class-frequency file's entry} (image_count, freq,
    frequency), default the ground truth's own categories (LVIS carries the train counts);
    ``lambda_``: marks the classes with f < lambda as protected."""
    cats = sorted(gt['categories'], key=lambda c: c['id'])
    train = train or {c['id']: c for c in cats}
    precision, recall, thrs = arrays['precision'], arrays['recall'], arrays['iou_thrs']
    t50 = np.flatnonzero(np.isclose(thrs, 0.5))
    found = objects_found(gt['annotations'], evaluated)
    fps = false_positive_destinations(gt['annotations'], evaluated)
    dets = Counter(d['category_id'] for d in evaluated)
    rows = []
    for k, c in enumerate(cats):
        t = train.get(c['id'], {})
        objects, hit = found.get(c['id'], [0, 0])
        freq = t.get('freq')
        rows.append(
            dict(
                id=c['id'],
                name=c.get('name'),
                group=t.get('frequency') or c.get('frequency'),
                train_images=t.get('image_count'),
                protected=None if lambda_ is None or freq is None else bool(freq < lambda_),
                AP=mean_defined(precision[:, :, k, 0, -1]),
                AP50=mean_defined(precision[t50, :, k, 0, -1]),
                recall=mean_defined(recall[:, k, 0, -1]),
                recall50=mean_defined(recall[t50, k, 0, -1]),
                val_instances=objects,
                found=hit,
                detections=dets.get(c['id'], 0),
                false_positives=dict(fps.get(c['id'], Counter()).most_common(3))))
    return rows


def views(rows: Sequence[dict], names: Dict[int, str], top: int = 10) -> dict:
    """The three questions: rare classes with val objects none of which is found (``nothing``);
    classes furthest below the AP their training image count predicts (a least-squares line of
    AP on log10(1 + images) over the classes with an AP; ``below_trend``: the residuals, most
    negative first); and where each rare class's unmatched detections land (``rare_fp``)."""
    nothing = [
        r['name'] for r in rows if r['group'] == 'r' and r['val_instances'] and not r['found']
    ]
    fit = [r for r in rows if r['AP'] >= 0 and r['train_images'] is not None]
    below = []
    if len(fit) >= 3:
        x = np.log10(1 + np.asarray([r['train_images'] for r in fit], dtype=np.float64))
        y = np.asarray([r['AP'] for r in fit])
        slope, icpt = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, float(np.mean(y)))
        res = y - (slope * x + icpt)
        order = np.argsort(res, kind='stable')[:top]
        below = [
            dict(
                name=fit[i]['name'],
                AP=fit[i]['AP'],
                predicted=float(slope * x[i] + icpt),
                residual=float(res[i]),
                train_images=fit[i]['train_images']) for i in order
        ]
    rare_fp = {
        r['name']: {
            (names.get(k, str(k)) if k != 'background' else k): n
            for k, n in r['false_positives'].items()
        }
        for r in rows if r['group'] == 'r' and r['false_positives']
    }
    return dict(nothing=nothing, below_trend=below, rare_fp=rare_fp)


def compare(rows: Sequence[dict], baseline: Sequence[dict], top: int = 10) -> dict:
    """A method's rows against a baseline's (same ground truth): per class the AP difference,
    per group the mean AP of each and the difference (over the classes with an AP in both), and
    the ``top`` classes that gained and lost most."""
    base = {r['id']: r for r in baseline}
    diffs = [
        dict(
            id=r['id'],
            name=r['name'],
            group=r['group'],
            AP=r['AP'],
            baseline_AP=base[r['id']]['AP'],
            delta=r['AP'] - base[r['id']]['AP']) for r in rows
        if r['AP'] >= 0 and base.get(r['id'], {}).get('AP', -1) >= 0
    ]
    groups = {}
    for g in ('r', 'c', 'f', None):
        sel = [d for d in diffs if g is None or d['group'] == g]
        if sel:
            groups[g or 'all'] = dict(
                classes=len(sel),
                AP=float(np.mean([d['AP'] for d in sel])),
                baseline_AP=float(np.mean([d['baseline_AP'] for d in sel])),
                delta=float(np.mean([d['delta'] for d in sel])))
    order = sorted(diffs, key=lambda d: d['delta'])
    return dict(per_class=diffs, groups=groups, gained=order[::-1][:top], lost=order[:top])
