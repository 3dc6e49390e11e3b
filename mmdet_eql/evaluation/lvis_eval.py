"""Fast and exact LVIS evaluation: the standard protocol, AP-fixed and AP-pool.

:func:`lvis_eval` computes lvis-api's numbers (``LVISEval``, LVIS v0.5/v1 federated protocol,
300 detections per image) with faster-coco-eval's compiled matcher and accumulator in its LVIS
mode, and the large-vocabulary protocols of Dave et al. 2021 (arXiv 2102.01066):
``protocol='fixed'`` (no per-image limit; each category keeps its 10,000 best-scored detections
over the dataset) and ``pooled=True`` (one precision/recall curve over all categories, and one
per frequency group). The tests check every summary number against lvis-api (standard) and
against a plain-Python evaluator written from the definitions
(:mod:`mmdet_eql.evaluation.lvis_definition`, all protocols) to 1e-9. The work-arounds:

* LVISResults keeps the 300 best-scored detections of each image and regroups the list by image;
  we apply the same cap, in the same order, before handing the list over.
* faster-coco-eval's segm path crashes on images that have neither annotations nor a
  ``neg_category_ids`` key; such images can hold no evaluated detection, so detections on them
  are dropped first (lvis-api ignores them too) and the key is given an empty default.
* An empty result list (lvis-api raises) gives AP 0 for every category with ground truth.
* Per-category AP (precision averaged over IoU thresholds and recall points, as lvis-api's
  summaries do) is returned too, for the class-wise table and the plots.
* AP-fixed: the per-category selection is done in NumPy (a stable sort by category and score)
  and the compiled evaluator is given a per-(image, category) limit no pair reaches.
* AP-pool: the compiled evaluator has no pooled mode, so each evaluated (image, category) pair
  becomes an image of its own and each pool one category; its per-category curve is then the
  pooled curve, with the same matching, federated rules and order of ties as the definition.
"""
import copy
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmdet_eql.utils.io import ToolError, load_json

SUMMARY_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300', 'ARs@300',
                'ARm@300', 'ARl@300')
PROTOCOLS = ('standard', 'fixed')
#: the pooled figures (``pooled=True``): all categories, and each frequency group
POOLED_KEYS = ('APpool', 'APpool_r', 'APpool_c', 'APpool_f')

#: detections an image the ``_ap-fixed`` leaves keep (``test_cfg`` ``max_per_img``; a test checks
#: every such leaf) for LVIS v1's 1203 classes: AP-fixed has no per-image cap, and this is the cap
#: it is measured under here
AP_FIXED_PER_IMAGE = 1000
AP_FIXED_CLASSES = 1203
#: per-image caps of mmdet's test_cfg that a single image's count betrays by itself (COCO's and
#: LVIS's standard ``max_per_img``)
STANDARD_CAPS = (100, 300)


def ap_fixed_per_image(num_classes: int) -> int:
    """The per-image cap below which AP-fixed would lose detections, for ``num_classes``
    classes: AP_FIXED_PER_IMAGE in proportion to the vocabulary (0.83 an image and class, as the
    _ap-fixed leaves allow LVIS), as the benchmark scales LVIS's budgets to its data."""
    return max(1, round(AP_FIXED_PER_IMAGE * num_classes / AP_FIXED_CLASSES))


def capped_per_image(counts: Sequence[int], num_classes: int = AP_FIXED_CLASSES) -> Optional[tuple]:
    """``(cap, images at it, images with detections, needed)`` when the per-image detection
    ``counts`` look made under a per-image cap below what AP-fixed needs for ``num_classes``
    classes (``needed``: :func:`ap_fixed_per_image`), else None. Looks capped: the most any image
    holds is below ``needed``, and at least half of the images with detections (and at least two
    of them), or the only one at a standard cap (STANDARD_CAPS), hold exactly that many (an
    uncapped detector's counts vary from image to image)."""
    counts = np.asarray(counts, dtype=np.int64)
    counts = counts[counts > 0]
    if not counts.size:
        return None
    top = int(counts.max())
    at_top = int((counts == top).sum())
    needed = ap_fixed_per_image(num_classes)
    if top >= needed:
        return None
    if (at_top >= 2 and 2 * at_top >= counts.size) or (counts.size == 1 and top in STANDARD_CAPS):
        return top, at_top, int(counts.size), needed
    return None


def check_uncapped(counts: Sequence[int], num_classes: int, where: str = 'results') -> None:
    """Refuses (ToolError) detections that look capped per image (:func:`capped_per_image`)
    for AP-fixed, saying why and how to test without the cap."""
    capped = capped_per_image(counts, num_classes)
    if capped is None:
        return
    top, at_top, n, needed = capped
    raise ToolError(
        f'{where}: {at_top} of the {n} images with detections hold exactly {top}, the most any '
        f'image holds: the detections look capped at {top} an image (a test_cfg max_per_img; '
        f"LVIS's standard protocol keeps 300), below the {needed} an image AP-fixed is measured "
        f'with here for {num_classes} classes ({AP_FIXED_PER_IMAGE} for LVIS\'s '
        f'{AP_FIXED_CLASSES}). AP-fixed counts each category\'s best detections over the dataset '
        f'with no per-image cap, so this would not be AP-fixed. Test with the leaf\'s _ap-fixed '
        f'sibling (configs/README.md, "AP-fixed and AP-pool"), or set '
        f'model.test_cfg.rcnn.max_per_img={needed} (model.test_cfg.max_per_img for a one-stage '
        f'detector) and the score threshold 1e-4. To evaluate these detections anyway: '
        f'allow_capped=True (eval_lvis.py: --allow-capped).')


def summary_keys(protocol: str = 'standard', max_dets: int = 300, pooled: bool = False) -> tuple:
    """The keys :func:`lvis_eval` returns: AR is AR@300 under the standard protocol (AR@N for
    another ``max_dets``) and plain AR under 'fixed' (no per-image limit)."""
    ar = 'AR' if protocol == 'fixed' else f'AR@{max_dets}'
    keys = SUMMARY_KEYS[:9] + (ar, ) + tuple(ar[:2] + s + ar[2:] for s in 'sml')
    return keys + (POOLED_KEYS if pooled else ())


def _load(obj, what):
    if isinstance(obj, str):
        return load_json(obj, what=what, progress=False)
    return obj


#: the columns of detections given as arrays (see :func:`lvis_eval`)
COLUMNS = ('image_id', 'category_id', 'score', 'bbox')


def rank_within(groups: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each detection's rank (0: best) by score within its group; ties: the earlier first."""
    n = len(groups)
    order = np.lexsort((-score, groups))  # stable: by group, then score, then position
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return rank


def top_k_within(groups: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Whether each detection is among the ``k`` best-scored of its group (ties: the earlier),
    i.e. ``rank_within(groups, score) < k``, without sorting scores: a stable sort by group
    (a radix sort for small non-negative ids), then in each group over ``k`` a partition at
    its k-th best score. ``k < 0``: keep everything."""
    n = len(groups)
    if k < 0 or n == 0:
        return np.ones(n, dtype=bool)
    if k == 0:
        return np.zeros(n, dtype=bool)
    groups = np.asarray(groups)
    small = groups.min() >= 0 and groups.max() < 2**15
    order = np.argsort(groups.astype(np.int16) if small else groups, kind='stable')
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, n])
    keep = np.ones(n, dtype=bool)
    for a, m in zip(starts[sizes > k].tolist(), sizes[sizes > k].tolist()):
        idx = order[a:a + m]  # the group's detections in their order
        s = score[idx]
        kth = np.partition(s, m - k)[m - k]  # the k-th best score
        chosen = s > kth
        chosen[np.flatnonzero(s == kth)[:k - np.count_nonzero(chosen)]] = True
        keep[idx] = chosen
    return keep


def select_detections(image_id: np.ndarray,
                      category_id: np.ndarray,
                      score: np.ndarray,
                      protocol: str,
                      max_dets: int = 300,
                      dets_per_cat: int = 10000) -> np.ndarray:
    """Indices (ascending) of the detections a protocol evaluates: 'standard', each image's
    ``max_dets`` best (lvis-api's LVISResults; -1: all); 'fixed', each category's
    ``dets_per_cat`` best over the whole list (AP-fixed). Ties: the earlier detection."""
    if protocol == 'standard':
        return np.flatnonzero(top_k_within(image_id, score, max_dets))
    return np.flatnonzero(top_k_within(category_id, score, dets_per_cat))


def _verified(gt: dict, image_id: np.ndarray, category_id: np.ndarray) -> np.ndarray:
    """Whether each (image, category) pair is verified: the category is annotated on the image
    or in its ``neg_category_ids``."""
    pairs = {(a['image_id'], a['category_id']) for a in gt['annotations']}
    pairs.update((im['id'], c) for im in gt['images'] for c in im.get('neg_category_ids', ()))
    if not pairs or len(image_id) == 0:
        return np.zeros(len(image_id), dtype=bool)
    verified = np.array(sorted(pairs), dtype=np.int64)
    cat_base = int(max(verified[:, 1].max(), category_id.max())) + 1
    keys = np.unique(verified[:, 0] * cat_base + verified[:, 1])
    return np.isin(image_id.astype(np.int64) * cat_base + category_id, keys)


def mean_defined(v: np.ndarray) -> float:
    """The mean of the defined (> -1) values of an accumulated array, -1 when none is (how
    lvis-api summarises precision and recall)."""
    v = v[v > -1]
    return float(np.mean(v)) if v.size else -1.0


def _per_category_ap(precision: np.ndarray) -> np.ndarray:
    """(T, R, K, A, M) precision -> (K,) AP over IoU thresholds and recall points at area 'all'
    and the largest max-dets; -1 where the category has no ground truth."""
    p = precision[:, :, :, 0, -1]
    return np.asarray([mean_defined(p[:, :, k]) for k in range(p.shape[2])], dtype=np.float64)


def _results_name(results, results_name: Optional[str]) -> str:
    """How errors name the results: the given name, else their path, else 'results'."""
    return results_name or (results if isinstance(results, str) else 'results')


def _validated(gt,
               results,
               iou_type: str,
               gt_name: Optional[str],
               results_name: Optional[str] = None):
    """Loads and checks the ground truth and the results; errors name the file and field.

    Returns:
        tuple: the ground truth, the results (as given: a list of dicts or columns) and their
        (image_id, category_id, score) arrays, each field validated once (:func:`check_detections`).
    """
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
    ungrouped = [c for c in gt['categories'] if c.get('frequency') not in ('r', 'c', 'f')]
    if ungrouped:
        c = ungrouped[0]
        raise ToolError(
            f'{gt_name}: {len(ungrouped)} categories have no LVIS frequency group (first: id '
            f'{c.get("id")}, {c.get("name")!r}, "frequency" {c.get("frequency")!r}; a COCO-format '
            'file?): APr / APc / APf need a group r, c or f per category. For your own data, make '
            'a class-frequency JSON from the train annotation file '
            '(tools/analysis_tools/class_frequency.py) and give it to '
            'tools/analysis_tools/eval_lvis.py --class-freq FREQ.json: its groups are used and the '
            'images are taken as exhaustively labelled, as COCO-format data is')
    res_name = _results_name(results, results_name)
    results = _load(results, 'results file')
    if not isinstance(results, (list, dict)):
        raise ToolError(f'{res_name}: expected a list of detections (or columns), got '
                        f'{type(results).__name__}')
    where = osp.basename(res_name) if isinstance(res_name, str) else 'results'
    cols = check_detections(gt, results, iou_type, where=where)
    return gt, results, cols


def _field(results, key: str, where: str, iou_type: str) -> list:
    """One field of every detection of a list, or of columns, as a list (or array)."""
    if isinstance(results, dict):
        if key not in results:
            raise ToolError(f'{where} given as columns lack {key!r} (expected {list(COLUMNS)}, '
                            'and "segmentation" for segm)')
        return results[key]
    try:
        return [r[key] for r in results]
    except (KeyError, TypeError, IndexError):
        i = next(i for i, r in enumerate(results) if not isinstance(r, dict) or key not in r)
        what = 'is not a dict' if not isinstance(results[i], dict) else f'has no {key!r} field'
        raise ToolError(f'{where}[{i}] {what}: an LVIS result needs image_id, category_id, score '
                        f'and bbox{" and segmentation" if iou_type == "segm" else ""}') from None


def _ids(values, field: str, known: np.ndarray, what: str, where: str) -> np.ndarray:
    """Integer ids that the ground truth knows, as int64."""
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in 'iu':
        i = next((i for i, v in enumerate(values)
                  if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer))), None)
        if i is None:  # a column of another shape or type
            raise ToolError(f'{where}: column {field!r} must hold one integer per detection, got '
                            f'dtype {arr.dtype} and shape {arr.shape}')
        raise ToolError(f'{where}[{i}] has {field} {values[i]!r} of type '
                        f'{type(values[i]).__name__}; expected an integer id')
    arr = arr.astype(np.int64)
    bad = np.flatnonzero(~np.isin(arr, known))
    if bad.size:
        raise ToolError(f'{where}[{bad[0]}] has {field} {arr[bad[0]]}, which the ground truth '
                        f'does not contain ({what}): are the results for another dataset?')
    return arr


def check_detections(gt: dict, results, iou_type: str, where: str = 'results') -> tuple:
    """Validates every field of every detection once, on arrays (no per-detection checks in
    Python): image_id and category_id integers the ground truth has, score a finite number,
    bbox 4 finite numbers x, y, w, h with w, h >= 0, and for segm a segmentation (an RLE dict
    with size and counts, or polygons) per detection. Detections may be a list of dicts or
    columns (:data:`COLUMNS`).

    Raises:
        ToolError: naming the detection's index, the field and what was expected.

    Returns:
        tuple: (image_id, category_id, score) as int64, int64, float64 arrays.
    """
    n = len(results)
    if isinstance(results, dict):
        missing = [c for c in COLUMNS if c not in results]
        if missing:
            raise ToolError(f'{where} given as columns lack {missing} (expected {list(COLUMNS)}, '
                            'and "segmentation" for segm)')
        n = len(results['score'])
        for name in list(COLUMNS) + (['segmentation'] if 'segmentation' in results else []):
            if len(results[name]) != n:
                raise ToolError(f'{where}: column {name!r} has {len(results[name])} rows, '
                                f'"score" has {n}')
    image_id = _ids(
        _field(results, 'image_id', where, iou_type), 'image_id',
        np.array([x['id'] for x in gt['images']], np.int64), 'images', where)
    category_id = _ids(
        _field(results, 'category_id', where, iou_type), 'category_id',
        np.array([x['id'] for x in gt['categories']], np.int64), 'categories', where)
    raw = _field(results, 'score', where, iou_type)
    score = np.asarray(raw)
    if score.ndim != 1 or score.dtype.kind not in 'iuf' and score.size:
        i = next((i for i, v in enumerate(raw) if isinstance(v, (
            bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))), 0)
        raise ToolError(f'{where}[{i}] has score {raw[i]!r}; expected a number')
    score = score.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(score))
    if bad.size:
        raise ToolError(f'{where}[{bad[0]}] has score {score[bad[0]]}; expected a finite number')
    has_bbox = isinstance(results, dict) and 'bbox' in results or (not isinstance(results, dict)
                                                                   and n and 'bbox' in results[0])
    if has_bbox or iou_type == 'bbox':
        raw = _field(results, 'bbox', where, iou_type)
        try:
            boxes = np.asarray(raw, dtype=np.float64)
        except (ValueError, TypeError):
            boxes = None
        if boxes is None or boxes.shape != (n, 4) and not (n == 0 and boxes.size == 0):
            i = next((i for i, b in enumerate(raw) if np.ndim(b) != 1 or len(b) != 4 or not all(
                isinstance(v, (int, float, np.integer,
                               np.floating)) and not isinstance(v, (bool, np.bool_))
                for v in b)), None)
            if i is None:
                raise ToolError(f'{where}: column "bbox" must be ({n}, 4) x, y, w, h numbers, '
                                f'got shape {np.shape(raw)}')
            raise ToolError(f'{where}[{i}] has bbox {raw[i]!r}; expected 4 numbers x, y, w, h')
        boxes = boxes.reshape(n, 4)
        bad = np.flatnonzero(~np.isfinite(boxes).all(1))
        if bad.size:
            raise ToolError(f'{where}[{bad[0]}] has bbox {boxes[bad[0]].tolist()}; expected 4 '
                            'finite numbers x, y, w, h')
        bad = np.flatnonzero((boxes[:, 2:] < 0).any(1))
        if bad.size:
            raise ToolError(f'{where}[{bad[0]}] has bbox {boxes[bad[0]].tolist()} with a negative '
                            'width or height; expected x, y, w, h with w, h >= 0')
    if iou_type == 'segm':
        segs = _field(results, 'segmentation', where, iou_type)
        ok = np.fromiter(
            (isinstance(m, dict) and 'size' in m and 'counts' in m or isinstance(m, list)
             for m in segs), bool, n)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise ToolError(f'{where}[{i}] has segmentation {segs[i]!r:.80}; expected an RLE dict '
                            'with "size" and "counts" (or a list of polygons)')
    return image_id, category_id, score


def _columns(results) -> tuple:
    """(image_id, category_id, score) arrays of a list of detections or of columns."""
    if isinstance(results, dict):
        return (np.asarray(results['image_id'],
                           dtype=np.int64), np.asarray(results['category_id'], dtype=np.int64),
                np.asarray(results['score'], dtype=np.float64))
    n = len(results)
    return (np.fromiter((r['image_id'] for r in results), np.int64,
                        n), np.fromiter((r['category_id'] for r in results), np.int64,
                                        n), np.fromiter((r['score'] for r in results), np.float64,
                                                        n))


def _rows(results, idx: np.ndarray) -> List[dict]:
    """The detections at ``idx`` as (copied) LVIS result dicts."""
    if not isinstance(results, dict):
        return [copy.copy(results[i]) for i in idx.tolist()]
    img, cat, score = (
        np.asarray(results[c])[idx].tolist() for c in ('image_id', 'category_id', 'score'))
    boxes = np.asarray(results['bbox'], dtype=np.float64).reshape(-1, 4)[idx].tolist()
    out = [
        dict(image_id=i, category_id=c, score=s, bbox=b)
        for i, c, s, b in zip(img, cat, score, boxes)
    ]
    if 'segmentation' in results:
        for row, i in zip(out, idx.tolist()):
            row['segmentation'] = results['segmentation'][i]
    return out


def _evaluated_detections(gt: dict, results, cols: tuple, protocol: str, max_dets: int,
                          dets_per_cat: int):
    """The ground truth with default federated keys, and the detections the protocol evaluates
    on (image, category) pairs verified present or absent, in the results' order. Dropping the
    unverified ones first changes no number and avoids faster-coco-eval's crash on images
    without annotations."""
    gt = dict(gt)
    gt['images'] = [dict(im) for im in gt['images']]
    for im in gt['images']:
        im.setdefault('neg_category_ids', [])
        im.setdefault('not_exhaustive_category_ids', [])
    image_id, category_id, score = cols
    idx = select_detections(image_id, category_id, score, protocol, max_dets, dets_per_cat)
    idx = idx[_verified(gt, image_id[idx], category_id[idx])]
    return gt, _rows(results, idx)


def _summary(precision: np.ndarray, recall: np.ndarray, iou_thrs: np.ndarray,
             groups: Sequence[str]) -> Dict[str, float]:
    """lvis-api's summary numbers from the accumulated arrays: precision (T, R, K, A, M) and
    recall (T, K, A, M), areas all / small / medium / large, the last max-dets; ``groups``: the
    frequency group of each of the K categories. Each is the mean of the defined (> -1) values,
    -1 when none is."""

    mean = mean_defined

    p, r = precision[..., -1], recall[..., -1]
    at = {thr: np.flatnonzero(np.isclose(iou_thrs, thr)) for thr in (0.5, 0.75)}
    out = dict(
        AP=mean(p[:, :, :, 0]), AP50=mean(p[at[0.5], :, :, 0]), AP75=mean(p[at[0.75], :, :, 0]))
    for a, name in ((1, 's'), (2, 'm'), (3, 'l')):
        out[f'AP{name}'] = mean(p[:, :, :, a])
    groups = np.asarray(groups)
    for g in 'rcf':
        out[f'AP{g}'] = mean(p[:, :, groups == g, 0])
    out['AR@300'] = mean(r[:, :, 0])
    for a, name in ((1, 's'), (2, 'm'), (3, 'l')):
        out[f'AR{name}@300'] = mean(r[:, :, a])
    return out


#: at most this many (image, category, area) combinations in one run of the compiled evaluator,
#: which sets up every combination of its image and category ids in Python and C++ (LVIS val in
#: one run: 19,809 x 1203 x 4 = 95 million, more than 24 GiB). Measured on 4,000 images with
#: AP-fixed's detections: 24 s in chunks of 4 million, 12 s of 200,000, 15 s of one category.
MAX_EVALUATIONS = 200_000


def _category_chunks(gt: dict, results: List[dict], num_areas: int) -> List[tuple]:
    """[(category ids, image ids)]: the categories in id order, in chunks whose images (those
    holding an annotation or a detection of a chunk's category) times categories times areas
    stay within MAX_EVALUATIONS where possible. Any other image holds nothing of the chunk, so
    leaving it out changes no number."""
    images_of = defaultdict(set)
    for a in gt['annotations']:
        images_of[a['category_id']].add(a['image_id'])
    for r in results:
        images_of[r['category_id']].add(r['image_id'])
    chunks, cats, imgs = [], [], set()
    for c in sorted(x['id'] for x in gt['categories']):
        grown = imgs | images_of[c]
        if cats and len(grown) * (len(cats) + 1) * num_areas > MAX_EVALUATIONS:
            chunks.append((cats, imgs))
            cats, grown = [], set(images_of[c])
        cats, imgs = cats + [c], grown
    chunks.append((cats, imgs))
    any_image = [gt['images'][0]['id']] if gt['images'] else []
    return [(cats, sorted(imgs) or any_image) for cats, imgs in chunks]


def _accumulated(gt: dict,
                 results: List[dict],
                 iou_type: str,
                 max_dets: int,
                 all_areas: bool = True):
    """faster-coco-eval's LVIS-mode evaluation, categories in chunks (each category's curve is
    its own, so chunks change no number and bound the time and memory): precision
    (T, R, K, A, 1), recall (T, K, A, 1) over the categories in id order, and the IoU
    thresholds. Without ``all_areas``, only the area range 'all'."""
    from faster_coco_eval import COCO, COCOeval_faster

    coco_gt = COCO(gt)
    coco_dt = coco_gt.loadRes(results)
    precision, recall = [], []
    for cats, imgs in _category_chunks(gt, results, 4 if all_areas else 1):
        ev = COCOeval_faster(
            coco_gt, coco_dt, iou_type, lvis_style=True, print_function=lambda *a: None)
        ev.params.catIds = cats
        ev.params.imgIds = imgs
        ev.params.maxDets = [max_dets]
        if not all_areas:
            ev.params.areaRng = ev.params.areaRng[:1]
            ev.params.areaRngLbl = ev.params.areaRngLbl[:1]
        ev.evaluate()
        ev.accumulate()
        precision.append(ev.eval['precision'])
        recall.append(ev.eval['recall'])
    return np.concatenate(precision, 2), np.concatenate(recall, 1), np.asarray(ev.params.iouThrs)


def _max_per_pair(results: List[dict]) -> int:
    """The most detections any (image, category) pair has (at least 1)."""
    if not results:
        return 1
    image_id, category_id, _ = _columns(results)
    _, counts = np.unique(np.stack([image_id, category_id], 1), axis=0, return_counts=True)
    return int(counts.max())


#: lvis-api's IoU thresholds and recall points (np.linspace's floats: a recall of exactly 7/100
#: must compare with 0.07000000000000001 as there), and area range 'all'
IOU_THRS = np.linspace(0.5, 0.95, 10)
REC_THRS = np.linspace(0.0, 1.0, 101)
AREA_ALL = (0, 1e10)


def box_ious(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """IoU of x, y, w, h boxes (..., 4), broadcast over the leading axes: row-wise for (E, 4)
    pairs, (D, G) for ``d[:, None]`` and ``g[None]``; each operation in the order of the
    definition (lvis_definition.box_iou), so that the float64 results are the same to the last
    bit."""
    iw = np.minimum(d[..., 0] + d[..., 2], g[..., 0] + g[..., 2]) - np.maximum(d[..., 0], g[..., 0])
    ih = np.minimum(d[..., 1] + d[..., 3], g[..., 1] + g[..., 3]) - np.maximum(d[..., 1], g[..., 1])
    inter = iw * ih
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - inter)
    return np.where((iw <= 0) | (ih <= 0), 0.0, iou)


def _pair_edges(det_pair, gt_pair, det_rows, gt_rows):
    """Every (detection, annotation) of the same pair: indices into the detections and the
    annotations, both given sorted by pair."""
    gt_start = np.searchsorted(gt_pair, det_pair, side='left')
    gt_count = np.searchsorted(gt_pair, det_pair, side='right') - gt_start
    e_det = np.repeat(np.arange(len(det_pair)), gt_count)
    offset = np.arange(len(e_det)) - np.repeat(np.cumsum(gt_count) - gt_count, gt_count)
    return det_rows[e_det], gt_rows[np.repeat(gt_start, gt_count) + offset]


def _edge_ious(gt: dict, results: List[dict], e_det, e_gt, iou_type: str) -> np.ndarray:
    """IoU of each (detection, annotation) edge: boxes in NumPy, masks with the compiled RLE
    IoU (annotations' polygons made RLE at their image's size)."""
    anns = gt['annotations']
    if iou_type == 'bbox':
        d = np.array([results[i]['bbox'] for i in e_det.tolist()], np.float64).reshape(-1, 4)
        g = np.array([anns[i]['bbox'] for i in e_gt.tolist()], np.float64).reshape(-1, 4)
        return box_ious(d, g)
    from faster_coco_eval.core import mask as mask_utils
    sizes = {im['id']: (im['height'], im['width']) for im in gt['images']}
    rles = {}

    def gt_rle(i):
        if i not in rles:
            seg = anns[i]['segmentation']
            if isinstance(seg, list):  # polygons
                h, w = sizes[anns[i]['image_id']]
                seg = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            elif isinstance(seg.get('counts'), list):  # uncompressed RLE
                seg = mask_utils.frPyObjects(seg, *seg['size'])
            rles[i] = seg
        return rles[i]

    return np.array([
        float(mask_utils.iou([results[d]['segmentation']], [gt_rle(g)], [0])[0][0])
        for d, g in zip(e_det.tolist(), e_gt.tolist())
    ], np.float64)


def _greedy_match(det_rank, e_det, e_gt, e_iou, e_gt_ignored, num_dets, num_gts):
    """The definition's greedy matching at every IoU threshold at once, vectorised over the
    (image, category) pairs: the detections of rank r (by score within their pair) of all pairs
    are matched together, rank after rank. A detection takes, among the annotations not taken at
    that threshold with IoU >= t, a non-ignored one first, then the highest IoU, then the last in
    the annotations' order (e_gt). Returns (matched, matched to an ignored annotation), each
    (num_dets, T)."""
    num_thrs = len(IOU_THRS)
    matched = np.zeros((num_dets, num_thrs), bool)
    matched_ignored = np.zeros((num_dets, num_thrs), bool)
    keep = e_iou >= IOU_THRS[0]  # no edge below the lowest threshold can match
    e_det, e_gt, e_iou, e_ig = e_det[keep], e_gt[keep], e_iou[keep], e_gt_ignored[keep]
    if not len(e_det):
        return matched, matched_ignored
    # by rank, detection, then preference ascending: the last valid edge is the one taken
    order = np.lexsort((e_gt, e_iou, ~e_ig, e_det, det_rank[e_det]))
    e_det, e_gt, e_iou, e_ig = e_det[order], e_gt[order], e_iou[order], e_ig[order]
    thrs = np.minimum(IOU_THRS, 1 - 1e-10)
    taken = np.zeros((num_gts, num_thrs), bool)
    rank = det_rank[e_det]
    bounds = np.flatnonzero(np.r_[True, rank[1:] != rank[:-1], True])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        d, g = e_det[a:b], e_gt[a:b]
        valid = (e_iou[a:b, None] >= thrs) & ~taken[g]
        starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        last = np.maximum.reduceat(np.where(valid, np.arange(b - a)[:, None], -1), starts, axis=0)
        rows, cols = np.nonzero(last >= 0)
        e = last[rows, cols]
        taken[g[e], cols] = True
        matched[d[starts[rows]], cols] = True
        matched_ignored[d[starts[rows]], cols] = e_ig[a:b][e]
    return matched, matched_ignored


def _curve_ap(score: np.ndarray, tp: np.ndarray, ignored: np.ndarray, num_gt: int) -> float:
    """One precision/recall curve per IoU threshold over the detections given in the
    definition's order of ties (stable sort by score), averaged over thresholds and recall
    points; -1 without annotations."""
    if num_gt == 0:
        return -1.0
    order = np.argsort(-score, kind='stable')
    readings = np.zeros((tp.shape[1], len(REC_THRS)))
    for t in range(tp.shape[1]):
        hit = tp[order, t][~ignored[order, t]]
        if not len(hit):
            continue
        tps = np.cumsum(hit)
        seen = np.arange(1, len(hit) + 1)
        recall = tps / num_gt
        precision = np.maximum.accumulate((tps / (seen + np.spacing(1)))[::-1])[::-1]
        idx = np.searchsorted(recall, REC_THRS, side='left')
        readings[t] = np.where(idx < len(hit), precision[np.minimum(idx, len(hit) - 1)], 0.0)
    return float(np.mean(readings))


def _pooled(gt: dict, results: List[dict], iou_type: str) -> Dict[str, float]:
    """APpool, APpool_r/c/f from one matching of the evaluated detections (area 'all'), done
    here in NumPy: each pool's one curve over its (image, category) pairs averaged over IoU
    thresholds and recall points; -1 for a pool without annotations. ``results``: the evaluated
    detections (verified pairs), ``gt`` with the federated keys defaulted."""
    anns = gt['annotations']
    group = {c['id']: c.get('frequency') for c in gt['categories']}
    cat_base = max([c['id'] for c in gt['categories']], default=0) + 1
    d_img, d_cat, d_score = _columns(results)
    d_pair = d_img * cat_base + d_cat
    # detections in pair order (image, then category), then by score, ties in the results' order
    d_order = np.lexsort((np.arange(len(d_pair)), -d_score, d_pair))
    d_pair, d_score, d_cat = d_pair[d_order], d_score[d_order], d_cat[d_order]
    det_rank = rank_within(d_pair, d_score)  # the position within the pair in this order
    g_pair = np.array([a['image_id'] * cat_base + a['category_id'] for a in anns], np.int64)
    g_cat = np.array([a['category_id'] for a in anns], np.int64)
    g_area = np.array([a['area'] for a in anns], np.float64)
    g_ignored = ~((AREA_ALL[0] <= g_area) & (g_area <= AREA_ALL[1]))
    g_order = np.argsort(g_pair, kind='stable')
    e_det, e_gt = _pair_edges(d_pair, g_pair[g_order], np.arange(len(d_pair)), g_order)
    e_iou = _edge_ious(gt, results, d_order[e_det], e_gt, iou_type)
    matched, matched_ignored = _greedy_match(det_rank, e_det, e_gt, e_iou, g_ignored[e_gt],
                                             len(d_pair), len(anns))
    # unmatched: ignored outside the area range or on a not-exhaustive pair
    d_area = np.array([
        r['bbox'][2] * r['bbox'][3] if 'bbox' in r else r.get('area', 0.0)
        for r in (results[i] for i in d_order.tolist())
    ], np.float64)
    not_exhaustive = np.array(
        sorted({
            im['id'] * cat_base + c
            for im in gt['images']
            for c in im['not_exhaustive_category_ids']
        }), np.int64)
    unmatched_ignored = (~((AREA_ALL[0] <= d_area) & (d_area <= AREA_ALL[1]))
                         | np.isin(d_pair, not_exhaustive))
    ignored = np.where(matched, matched_ignored, unmatched_ignored[:, None])
    tp = matched & ~ignored
    d_group = np.array([group[c] for c in d_cat.tolist()], dtype=object)
    g_group = np.array([group[c] for c in g_cat.tolist()], dtype=object)
    out = {}
    for key, pool in zip(POOLED_KEYS, ('all', 'r', 'c', 'f')):
        d_in = np.ones(len(d_pair), bool) if pool == 'all' else d_group == pool
        g_in = np.ones(len(anns), bool) if pool == 'all' else g_group == pool
        out[key] = _curve_ap(d_score[d_in], tp[d_in], ignored[d_in],
                             int(np.count_nonzero(g_in & ~g_ignored)))
    return out


def lvis_eval(gt: Union[str, dict],
              results: Union[str, List[dict]],
              iou_type: str = 'bbox',
              max_dets: int = 300,
              per_category: bool = False,
              gt_name: Optional[str] = None,
              protocol: str = 'standard',
              dets_per_cat: int = 10000,
              pooled: bool = False,
              results_name: Optional[str] = None,
              allow_capped: bool = False,
              return_arrays: bool = False) -> dict:
    """Evaluates LVIS-format results exactly as lvis-api (or the AP-fixed / AP-pool definitions)
    does, in compiled code.

    Args:
        gt: path to (or the loaded dict of) an LVIS-format annotation file.
        results: path to (or list of) detections in the LVIS results format, or the same as
            columns: {'image_id': (N,), 'category_id': (N,), 'score': (N,), 'bbox': (N, 4)
            x, y, w, h, and for segm 'segmentation': N RLEs} (arrays or lists; only the
            evaluated detections are then turned into dicts, which keeps AP-fixed's millions of
            detections cheap).
        iou_type: 'bbox' or 'segm'.
        max_dets: detections kept per image under the standard protocol (LVIS: 300).
        per_category: also return ``per_category``: {category_id: AP} (-1: no ground truth).
        gt_name: how errors name the ground truth (default: its path, or "ground truth").
        protocol: 'standard' (``max_dets`` per image) or 'fixed' (AP-fixed: no per-image limit,
            ``dets_per_cat`` per category over the dataset).
        dets_per_cat: AP-fixed's detections per category (LVIS challenge: 10,000).
        pooled: also return AP-pool (APpool, APpool_r/c/f) over the protocol's detections
            (Dave et al. pool the AP-fixed detections: use with protocol='fixed').
        results_name: how errors name the results (default: their path, or "results").
        allow_capped: under 'fixed', evaluate detections that look capped per image
            (:func:`check_uncapped` refuses them otherwise).
        return_arrays: also return ``arrays`` (the accumulated ``precision`` (T, R, K, A, M),
            ``recall`` (T, K, A, M) and ``iou_thrs``, categories in id order) and ``evaluated``
            (the detections the protocol evaluated, as dicts): what the per-class report reads
            (:mod:`mmdet_eql.evaluation.per_class`).

    Returns:
        dict: :func:`summary_keys` as floats in [0, 1] (-1 where undefined): AP, AP50, AP75,
        APs, APm, APl, APr, APc, APf, AR@300 and ARs/m/l@300 (AR, ARs, ARm, ARl under 'fixed'),
        the pooled keys with ``pooled``, and ``per_category`` when asked.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f'protocol must be one of {PROTOCOLS}, got {protocol!r}')
    if protocol == 'fixed' and (not isinstance(dets_per_cat, int) or dets_per_cat < 1):
        raise ValueError(f'dets_per_cat must be a positive integer, got {dets_per_cat!r}')
    if not isinstance(pooled, (bool, np.bool_)):
        raise ValueError(f'pooled must be True or False, got {pooled!r}')
    name = _results_name(results, results_name)
    gt, results, cols = _validated(gt, results, iou_type, gt_name, results_name)
    if protocol == 'fixed' and not allow_capped:
        check_uncapped(np.unique(cols[0], return_counts=True)[1], len(gt['categories']), name)
    gt, results = _evaluated_detections(gt, results, cols, protocol, max_dets, dets_per_cat)
    limit = max_dets if protocol == 'standard' else _max_per_pair(results)
    precision, recall, iou_thrs = _accumulated(gt, results, iou_type, limit)
    cats = sorted(gt['categories'], key=lambda c: c['id'])
    out = _summary(precision, recall, iou_thrs, [c.get('frequency') for c in cats])
    if protocol == 'fixed':
        out = {k.replace('@300', ''): v for k, v in out.items()}
    elif max_dets != 300:
        out = {k.replace('@300', f'@{max_dets}'): v for k, v in out.items()}
    if pooled:
        out.update(_pooled(gt, results, iou_type))
    if per_category:
        ap = _per_category_ap(precision)
        out['per_category'] = {c['id']: float(a) for c, a in zip(cats, ap)}
    if return_arrays:
        out['arrays'] = dict(precision=precision, recall=recall, iou_thrs=iou_thrs)
        out['evaluated'] = results
    return out


def lvis_eval_lvisapi(gt: Union[str, dict],
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


def match_class_freq(gt: dict, class_freq: dict, where: str = 'class-frequency file') -> dict:
    """{category id: the frequency file's entry} for every category of ``gt``, matched by id and
    checked by name: refuses (ToolError) an id the file lacks or a name that differs, listing the
    differing entries (a file made from another split's conversion numbers the categories
    otherwise, and its groups would land on the wrong classes)."""
    entries = {c['id']: c for c in class_freq.get('categories', [])}
    missing = [c for c in gt['categories'] if c['id'] not in entries]
    renamed = [(c['id'], c.get('name'), entries[c['id']].get('name')) for c in gt['categories']
               if c['id'] in entries and entries[c['id']].get('name') is not None
               and c.get('name') is not None and entries[c['id']]['name'] != c['name']]
    if missing or renamed:
        said = [
            f'{len(missing)} ground-truth ids it lacks (' + ', '.join(f'{c["id"]} {c.get("name")!r}'
                                                                      for c in missing[:5]) + ')'
        ] if missing else []
        said += [
            f'{len(renamed)} ids named otherwise (' +
            ', '.join(f'id {i}: ground truth {a!r}, frequency file {b!r}'
                      for i, a, b in renamed[:5]) + ')'
        ] if renamed else []
        raise ToolError(f'{where} does not match the ground truth by category id and name: '
                        f'{"; ".join(said)}. Make it from the train annotation file of the same '
                        'conversion, whose ids the val file shares '
                        '(tools/analysis_tools/class_frequency.py)')
    return {c['id']: entries[c['id']] for c in gt['categories']}


def with_groups(gt: dict, class_freq: dict, where: str = 'class-frequency file') -> dict:
    """A COCO-format ground truth made evaluable by the LVIS protocol: each category's frequency
    group from ``class_freq`` (a class-frequency JSON's content, matched by category id and
    checked by name: :func:`match_class_freq`), and every image's absent categories as its
    verified negatives (COCO-format data labels every object of its classes, so a detection of an
    absent class is a false positive, as LVIS counts it on a verified negative). Returns a new
    dict; ``gt`` is not changed."""
    matched = match_class_freq(gt, class_freq, where)
    groups = {i: c.get('frequency') for i, c in matched.items()}
    missing = [c for c in gt['categories'] if groups.get(c['id']) not in ('r', 'c', 'f')]
    if missing:
        c = missing[0]
        raise ToolError(f'{where}: no frequency group for category id {c["id"]} '
                        f'({c.get("name")!r}) of the ground truth: make it from the train '
                        'annotation file of the same dataset (tools/analysis_tools/'
                        'class_frequency.py)')
    out = dict(gt)
    out['categories'] = [dict(c, frequency=groups[c['id']]) for c in gt['categories']]
    present = defaultdict(set)
    for a in gt['annotations']:
        present[a['image_id']].add(a['category_id'])
    ids = [c['id'] for c in gt['categories']]
    out['images'] = [
        dict(
            im,
            neg_category_ids=[c for c in ids if c not in present[im['id']]],
            not_exhaustive_category_ids=[]) for im in gt['images']
    ]
    return out


def empty_results_note(where: str = 'the results') -> str:
    """One line for results without a single detection: every AP is 0, and why that is usual
    after a smoke run."""
    return (f'note: {where} holds no detection, so every AP is 0. After a few iterations a '
            "model scores every box below mmdet's test score threshold (0.05; EQL's sigmoid "
            'prior starts near 0.001): test a smoke run with model.test_cfg.rcnn.score_thr=0 '
            '(model.test_cfg.score_thr for a one-stage detector) and a small max_per_img '
            '(docs/own_data.md)')


def group_coverage(gt: dict, per_category: Dict[int, float]) -> str:
    """One line: how many of each frequency group's classes its AP averages (a class without a
    val instance has no AP and is left out of the mean), e.g. "APr averages 2 of 3 rare classes
    (left out, no val instance: 'bolts')"."""
    from mmdet_eql.utils.class_frequency import GROUP_NAMES
    names = {c['id']: c.get('name') for c in gt['categories']}
    parts = []
    for g in 'rcf':
        ids = [c['id'] for c in gt['categories'] if c.get('frequency') == g]
        if not ids:
            continue
        out = [names[i] for i in ids if per_category.get(i, -1) < 0]
        part = f'AP{g} averages {len(ids) - len(out)} of {len(ids)} {GROUP_NAMES[g]} classes'
        if out:
            part += ' (left out, no val instance: ' + ', '.join(map(
                repr, out[:5])) + (', ...' if len(out) > 5 else '') + ')'
        parts.append(part)
    return '; '.join(parts)


def summary_table(metrics: Dict[str, dict], keys: Optional[Sequence[str]] = None) -> str:
    """A plain-text table: one row per name in ``metrics``, AP columns in percent."""
    keys = list(keys or ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf'))
    width = max([len(n) for n in metrics] + [6])
    lines = [' '.join([f'{"":<{width}}'] + [f'{k:>7}' for k in keys])]
    for name, m in metrics.items():
        cells = [f'{100 * m[k]:7.1f}' if m.get(k, -1) >= 0 else f'{"-":>7}' for k in keys]
        lines.append(' '.join([f'{name:<{width}}'] + cells))
    return '\n'.join(lines)
