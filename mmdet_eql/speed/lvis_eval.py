"""Time lvis-api against mmdet_eql's evaluator on a synthetic LVIS v1-like result set.

    python tools/speed/lvis_eval.py [--images 2000] [--dets-per-image 200]

The script makes the ground truth (LVIS v1's 1203 categories and frequency groups, polygon
masks, federated negatives) and detections (jittered ground truth, wrong classes, background
boxes), evaluates bbox and segm with both, checks the numbers agree, and prints the times.
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time

import numpy as np
from tqdm import tqdm

from mmdet_eql.evaluation import lvis_eval, lvis_eval_lvisapi
from mmdet_eql.evaluation.lvis_eval import SUMMARY_KEYS
from mmdet_eql.utils.class_frequency import DATA_DIR


def polygon(rng, x, y, w, h, k=8):
    t = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = rng.uniform(0.7, 1.0, k)
    xs = x + w / 2 + np.cos(t) * r * w / 2
    ys = y + h / 2 + np.sin(t) * r * h / 2
    return [float(v) for v in np.stack([xs, ys], 1).reshape(-1)]


def make_set(num_images, dets_per_image, seed=0, masks=True):
    rng = np.random.RandomState(seed)
    with open(osp.join(DATA_DIR, 'lvis_v1_category_stats.json')) as f:
        cats = json.load(f)
    cat_ids = np.array([c['id'] for c in cats])
    weights = np.array([c['image_count'] for c in cats], float)
    weights /= weights.sum()
    images, anns, dets = [], [], []
    for i in tqdm(range(num_images), desc='making data', unit='img'):
        img_id = i + 1
        h, w = 480, 640
        present = rng.choice(cat_ids, size=rng.randint(1, 6), replace=False, p=weights)
        for c in present:
            for _ in range(rng.randint(1, 4)):
                bw, bh = rng.uniform(10, 200), rng.uniform(10, 200)
                x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                anns.append(
                    dict(
                        id=len(anns) + 1,
                        image_id=img_id,
                        category_id=int(c),
                        bbox=[x, y, bw, bh],
                        area=bw * bh * 0.7,
                        segmentation=[polygon(rng, x, y, bw, bh)]))
        absent = np.setdiff1d(rng.choice(cat_ids, 12, replace=False), present)
        images.append(
            dict(
                id=img_id,
                height=h,
                width=w,
                neg_category_ids=absent.tolist(),
                not_exhaustive_category_ids=[],
                file_name=f'{img_id}.jpg'))
        img_anns = [a for a in anns[-12:] if a['image_id'] == img_id]
        for k in range(dets_per_image):
            if k < 3 * len(img_anns):
                a = img_anns[k % len(img_anns)]
                x, y, bw, bh = a['bbox']
                bb = [
                    x + rng.normal(0, 4), y + rng.normal(0, 4), bw * rng.uniform(0.9, 1.1),
                    bh * rng.uniform(0.9, 1.1)
                ]
                c = a['category_id'] if rng.rand() < 0.7 else int(rng.choice(cat_ids))
            else:
                bw, bh = rng.uniform(10, 200), rng.uniform(10, 200)
                bb = [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]
                c = int(rng.choice(cat_ids, p=weights))
            dets.append(
                dict(
                    image_id=img_id,
                    category_id=c,
                    bbox=[float(v) for v in bb],
                    score=float(rng.rand()),
                    segmentation=None,
                    _poly=polygon(rng, *bb)))
    gt = dict(images=images, annotations=anns, categories=cats)
    if not masks:  # boxes only
        for d in dets:
            del d['_poly'], d['segmentation']
        return gt, dets
    from pycocotools import mask as mask_utils
    for d in tqdm(dets, desc='encoding masks', unit='det', mininterval=1):
        rle = mask_utils.frPyObjects([d.pop('_poly')], 480, 640)[0]
        rle['counts'] = rle['counts'].decode()
        d['segmentation'] = rle
    return gt, dets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=2000)
    parser.add_argument('--dets-per-image', type=int, default=200)
    parser.add_argument('--iou-type', nargs='+', default=['bbox', 'segm'])
    args = parser.parse_args(argv)
    gt, dets = make_set(args.images, args.dets_per_image)
    print(f'{len(gt["images"])} images, {len(gt["annotations"])} annotations, '
          f'{len(dets)} detections, {len(gt["categories"])} categories')
    rows = []
    for iou in args.iou_type:
        t0 = time.perf_counter()
        ref = lvis_eval_lvisapi(gt, copy.deepcopy(dets), iou)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = lvis_eval(gt, dets, iou)
        t_ours = time.perf_counter() - t0
        worst = max(abs(ours[k] - ref[k]) for k in SUMMARY_KEYS)
        rows.append((iou, t_ref, t_ours, t_ref / t_ours, worst))
        print(
            f'{iou}: lvis-api {t_ref:.1f} s, mmdet_eql {t_ours:.1f} s, '
            f'{t_ref / t_ours:.1f}x faster, largest difference {worst:.1e}',
            flush=True)
    print('\n| iou | lvis-api (s) | mmdet_eql (s) | speed-up | max abs diff |')
    print('| --- | --- | --- | --- | --- |')
    for iou, a, b, r, w in rows:
        print(f'| {iou} | {a:.1f} | {b:.1f} | {r:.1f}x | {w:.1e} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
