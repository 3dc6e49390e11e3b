"""The benchmark's evaluation of a finished detection run: box and mask AP (AP, APr, APc, APf) on
both val files of the generated data (``val_lvis.json``: LVIS's federated negatives;
``val_strict.json``: every absent class a negative), the box AP under LVIS's large-vocabulary
protocols as they are and with their budgets scaled to the val's size, and where the rare classes'
detections go. Kept in the run's ``eval.json`` (:func:`run_evaluation`)."""
import functools
import os.path as osp
from typing import Optional, Tuple

import numpy as np

from mmdet_eql.evaluation import lvis_eval
from mmdet_eql.utils import load_json, sha256_files, write_json


@functools.lru_cache(maxsize=None)
def data_fingerprint(data_root: str) -> str:
    """sha256 of the three annotation files (the images follow from them and the seed); read
    once per invocation, not once per run (the dataset is fixed once ensure_dataset returned)."""
    return sha256_files(*(osp.join(data_root, 'annotations', name)
                          for name in ('train.json', 'val_lvis.json', 'val_strict.json')))


#: bumped whenever :func:`evaluate` changes what it measures: an eval.json of another version is
#: evaluated again (from the detections) or refused (without them)
EVAL_VERSION = 1


def detections_digest(prefix: str) -> Optional[str]:
    """sha256 of a run's detection files (box, and masks where there are), None without them."""
    if not osp.isfile(f'{prefix}.bbox.json'):
        return None
    return sha256_files(*(f'{prefix}.{iou}.json' for iou in ('bbox', 'segm')
                          if osp.isfile(f'{prefix}.{iou}.json')))


def _category_ids(results: dict) -> dict:
    """``results`` read back from JSON with the category ids of its per-category APs as ints
    again (JSON keys are strings), as :func:`evaluate` returns them."""
    out = {}
    for k, v in results.items():
        if isinstance(v, dict):
            v = {int(c): ap for c, ap in v.items()} if k == 'per_category' else _category_ids(v)
        out[k] = v
    return out


def run_evaluation(prefix: str, data_root: str) -> dict:
    """:func:`evaluate` of a finished run, kept beside its detections in eval.json with the
    detections' sha256, the annotation files' fingerprint and EVAL_VERSION: a later report reads
    it back instead of evaluating again while all three match. A run whose detections are gone
    (deleted to save space, or carried to another machine as its run.json, eval.json and the
    monitor's grad_ratio.json) is reported from its eval.json; one that no longer matches its
    data or this version of the evaluation is refused."""
    path = osp.join(osp.dirname(prefix), 'eval.json')
    dets, data = detections_digest(prefix), data_fingerprint(data_root)
    if osp.isfile(path):
        cached = load_json(path, progress=False)
        key = (cached.get('version'), cached.get('data'))
        if key == (EVAL_VERSION, data) and dets in (None, cached.get('detections')):
            return _category_ids(cached['results'])
        if dets is None:
            why = ('the annotation files' if cached.get('data') != data else
                   f'the evaluation\'s version ({cached.get("version")} -> {EVAL_VERSION})')
            raise SystemExit(f'error: {path} was evaluated with other {why} and the run\'s '
                             'detections are not beside it to evaluate again: pass --retrain, '
                             'or restore its dets.bbox.json (and dets.segm.json)')
    elif dets is None:
        raise SystemExit(f'error: {prefix}.bbox.json: the run is recorded as finished but has '
                         'neither its detections nor an eval.json: pass --retrain')
    results = evaluate(prefix, data_root)
    write_json(dict(version=EVAL_VERSION, data=data, detections=dets, results=results), path)
    return results


def evaluate(prefix: str, data_root: str) -> dict:
    out = {}
    for val in ('lvis', 'strict'):
        gt = load_json(osp.join(data_root, 'annotations', f'val_{val}.json'), progress=False)
        for iou in ('bbox', 'segm'):
            if osp.isfile(f'{prefix}.{iou}.json'):  # one-stage detectors have no masks
                out[f'{iou}/{val}'] = lvis_eval(gt, f'{prefix}.{iou}.json', iou, per_category=True)
    out['protocols'] = evaluate_protocols(prefix, data_root)
    strict = load_json(osp.join(data_root, 'annotations', 'val_strict.json'), progress=False)
    out['rare_detections'] = rare_detections(
        load_json(f'{prefix}.bbox.json', progress=False), strict)
    return out


#: LVIS v1 val's size and budgets: 300 detections an image over 1203 classes (standard), 10,000
#: a category over 19,809 images (AP-fixed)
LVIS_VAL = dict(images=19809, classes=1203, per_image=300, per_category=10000)


def lvis_budgets(num_images: int, num_classes: int) -> Tuple[int, int]:
    """(detections an image, detections a category) in LVIS v1 val's proportions: per class and
    image, 300 / 1203 = 0.25 detections under the standard cap, 10,000 / 19,809 = 0.50 under
    AP-fixed's."""
    per_image = max(1, round(LVIS_VAL['per_image'] * num_classes / LVIS_VAL['classes']))
    per_category = max(1, round(LVIS_VAL['per_category'] * num_images / LVIS_VAL['images']))
    return per_image, per_category


def evaluate_protocols(prefix: str, data_root: str) -> dict:
    """Box AP of a run on the LVIS-like val under LVIS's budgets as they are (standard: 300 an
    image; AP-fixed: 10,000 a category, and AP-pool), and under the same budgets scaled to this
    val's number of images and classes (at this size LVIS's own budgets never bind)."""
    gt = load_json(osp.join(data_root, 'annotations', 'val_lvis.json'), progress=False)
    path = f'{prefix}.bbox.json'
    per_image, per_category = lvis_budgets(len(gt['images']), len(gt['categories']))
    return {
        'fixed':
        lvis_eval(gt, path, 'bbox', protocol='fixed', pooled=True),
        'standard_scaled':
        lvis_eval(gt, path, 'bbox', max_dets=per_image),
        'fixed_scaled':
        lvis_eval(gt, path, 'bbox', protocol='fixed', dets_per_cat=per_category, pooled=True),
        'budgets':
        dict(per_image=per_image, per_category=per_category),
    }


def rare_detections(dets: list, gt: dict) -> dict:
    """Where one run's rare-class detections go, on an exhaustively labelled val (strict): how
    many it keeps, their median and highest score, and how many of the rare val objects have a
    detection of their own class at IoU >= 0.5 anywhere in its list."""
    from mmdet_eql.evaluation.per_class import objects_found
    rare = {c['id'] for c in gt['categories'] if c.get('frequency') == 'r'}
    scores = [d['score'] for d in dets if d['category_id'] in rare]
    found = objects_found(gt['annotations'], dets, rare)  # the per-class report's count
    return dict(
        detections=len(scores),
        median_score=float(np.median(scores)) if scores else 0.0,
        highest_score=max(scores, default=0.0),
        objects=sum(n for n, _ in found.values()),
        objects_found=sum(k for _, k in found.values()))
