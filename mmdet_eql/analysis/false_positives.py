"""Where detections of each frequency group go: true positives, and false positives on other
classes' objects (look-alikes) or on background.

    python tools/analysis_tools/false_positive_analysis.py GT RESULTS [RESULTS ...]
                                                           [--score-thr 0.3] [--per-image K]

GT should be an exhaustively labelled file (the benchmark's val_strict.json); the training
frequency groups come from its categories. A detection is a true positive when it overlaps
(IoU >= 0.5) an unmatched ground-truth object of its class, a duplicate when the object it
overlaps most is one of its class already matched, a look-alike false positive when that object
is of another class, else a background false positive.

``--per-image K`` keeps each image's K highest-scoring detections first, as LVIS's per-image budget
does (300 an image; the benchmark's scaled budget: 16 an image over 64 classes): which groups take
the kept slots, and which objects lose their true positive to the budget.
"""
import argparse
import sys
from collections import defaultdict
from typing import Optional

import numpy as np

from mmdet_eql.evaluation.lvis_eval import select_detections
from mmdet_eql.utils import load_json, tool_main


def iou(box, boxes):
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def analyse(gt: dict, dets: list, score_thr: float, per_image: Optional[int] = None) -> dict:
    group = {c['id']: c['frequency'] for c in gt['categories']}
    if per_image is not None:  # the evaluator's own choice, so the AP under that budget counts
        # the same detections (ties: the earlier in the list)
        keep = select_detections(
            np.array([d['image_id'] for d in dets]), np.array([d['category_id'] for d in dets]),
            np.array([d['score'] for d in dets]), 'standard', per_image)
        dets = [dets[i] for i in keep]
    by_img = defaultdict(list)
    for a in gt['annotations']:
        by_img[a['image_id']].append(a)
    out = {g: dict(dets=0, tp=0, duplicate=0, fp_lookalike=0, fp_background=0, gt=0) for g in 'rcf'}
    for a in gt['annotations']:
        out[group[a['category_id']]]['gt'] += 1
    matched = set()
    for d in sorted((d for d in dets if d['score'] >= score_thr), key=lambda d: -d['score']):
        g = group[d['category_id']]
        out[g]['dets'] += 1
        anns = by_img[d['image_id']]
        if not anns:
            out[g]['fp_background'] += 1
            continue
        ious = iou(np.array(d['bbox'], float), np.array([a['bbox'] for a in anns], float))
        same = [
            i for i, a in enumerate(anns)
            if a['category_id'] == d['category_id'] and a['id'] not in matched
        ]
        if same and ious[same].max() >= 0.5:
            best = same[int(np.argmax(ious[same]))]
            matched.add(anns[best]['id'])
            out[g]['tp'] += 1
        elif ious.max() >= 0.5:
            top = anns[int(np.argmax(ious))]
            key = 'duplicate' if top['category_id'] == d['category_id'] else 'fp_lookalike'
            out[g][key] += 1
        else:
            out[g]['fp_background'] += 1
    return out


@tool_main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('gt')
    parser.add_argument('results', nargs='+', help='bbox results JSON files (one per model)')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument(
        '--per-image',
        type=int,
        metavar='K',
        help='keep the K highest-scoring detections of each image first (a per-image budget)')
    args = parser.parse_args(argv)
    if args.per_image is not None and args.per_image < 1:
        parser.error(f'--per-image must be at least 1, got {args.per_image}')
    gt = load_json(args.gt, what='ground-truth file')
    budget = '' if args.per_image is None else f'each image\'s top {args.per_image}, '
    print(f'{budget}score >= {args.score_thr}; per frequency group: detections, true positives, '
          'false positives on other objects / on background (ground-truth objects)')
    print('| results | group | dets | TP | duplicate | FP look-alike | FP background | '
          'GT objects |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for path in args.results:
        res = analyse(gt, load_json(path, what='results file'), args.score_thr, args.per_image)
        for g in 'rcf':
            r = res[g]
            print(f'| {path} | {g} | {r["dets"]} | {r["tp"]} | {r["duplicate"]} | '
                  f'{r["fp_lookalike"]} | '
                  f'{r["fp_background"]} | {r["gt"]} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
