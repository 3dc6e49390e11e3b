"""AP-fixed and AP-pool at LVIS-val scale: time and peak memory of the fast evaluator, of
FastLVISMetric, and of the plain-Python evaluator written from the definitions, on one input.

    python tools/speed/ap_fixed.py [--images 19809] [--dets-per-cat 11000]
        [--keep-per-cat 10000] [--skip-reference] [--work-dir DIR]

1. makes a synthetic LVIS v1 val (``--images`` images, LVIS v1's 1203 categories and frequency
   groups, about 10 annotations and 12 verified-absent categories an image, a tenth of the images
   with a not-exhaustive category) and ``--dets-per-cat`` box detections of every category over
   the whole set (jittered annotations of the category scored high, boxes on random images scored
   low, one score in five rounded to 2 decimals so that ties occur), so that every category is
   over AP-fixed's cap of ``--keep-per-cat``;
2. in a process of its own each (so that its peak resident memory is its own):
   ``lvis_eval(protocol='fixed', pooled=True)`` on the detections as columns and as a list of
   dicts; ``FastLVISMetric(protocol='fixed', pooled=True)`` fed image by image as
   ``tools/test.py`` feeds it; the plain-Python evaluator (``lvis_definition.py``) on the list;
3. prints a table (seconds, peak RSS) and the largest difference between their summary numbers.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

import numpy as np

MODES = ('columns', 'dicts', 'metric', 'reference')


def make_ground_truth(rng, num_images, cats):
    """An LVIS v1-like val set: present categories drawn by their train image counts."""
    cat_ids = np.array([c['id'] for c in cats])
    p = np.array([c['image_count'] for c in cats], float)
    p /= p.sum()
    images, anns = [], []
    for img_id in range(1, num_images + 1):
        present = rng.choice(cat_ids, size=rng.randint(1, 7), replace=False, p=p)
        for c in present:
            for _ in range(rng.randint(1, 4)):
                bw, bh = rng.uniform(8, 240), rng.uniform(8, 240)
                x, y = rng.uniform(0, 640 - bw), rng.uniform(0, 480 - bh)
                anns.append(
                    dict(
                        id=len(anns) + 1,
                        image_id=img_id,
                        category_id=int(c),
                        bbox=[x, y, bw, bh],
                        area=bw * bh))
        absent = np.setdiff1d(rng.choice(cat_ids, 12, replace=False), present)
        images.append(
            dict(
                id=img_id,
                height=480,
                width=640,
                neg_category_ids=absent.tolist(),
                not_exhaustive_category_ids=[int(present[0])] if rng.rand() < 0.1 else []))
    return dict(images=images, annotations=anns, categories=cats)


def make_detections(rng, gt, dets_per_cat):
    """Columns of ``dets_per_cat`` box detections per category."""
    boxes = np.array([a['bbox'] for a in gt['annotations']])
    ann_cat = np.array([a['category_id'] for a in gt['annotations']])
    ann_img = np.array([a['image_id'] for a in gt['annotations']])
    num_images = len(gt['images'])
    cols = {k: [] for k in ('image_id', 'category_id', 'score', 'bbox')}
    for c in (c['id'] for c in gt['categories']):
        mine = np.flatnonzero(ann_cat == c)
        n_tp = min(len(mine), dets_per_cat // 2)
        tp = rng.choice(mine, n_tp, replace=False) if n_tp else np.zeros(0, int)
        tp_boxes = boxes[tp] + rng.normal(0, 4, (n_tp, 4)) * [1, 1, 0.5, 0.5]
        n_fp = dets_per_cat - n_tp
        wh = rng.uniform(8, 240, (n_fp, 2))
        xy = rng.uniform(0, 1, (n_fp, 2)) * ([640, 480] - wh)
        cols['image_id'].append(np.r_[ann_img[tp], rng.randint(1, num_images + 1, n_fp)])
        cols['category_id'].append(np.full(dets_per_cat, c))
        cols['score'].append(np.r_[rng.rand(n_tp)**0.5, rng.rand(n_fp)**2])
        cols['bbox'].append(np.r_[tp_boxes, np.c_[xy, wh]])
    out = {k: np.concatenate(v) for k, v in cols.items()}
    out['bbox'][:, 2:] = np.maximum(out['bbox'][:, 2:], 1.0)
    tied = rng.rand(len(out['score'])) < 0.2
    out['score'][tied] = np.round(out['score'][tied], 2)
    order = rng.permutation(len(out['score']))  # the order a results file would have
    return {k: v[order] for k, v in out.items()}


def as_dicts(cols):
    return [
        dict(image_id=i, category_id=c, score=s, bbox=b)
        for i, c, s, b in zip(cols['image_id'].tolist(), cols['category_id'].tolist(),
                              cols['score'].tolist(), cols['bbox'].tolist())
    ]


def run_metric(gt_path, cols, keep):
    """FastLVISMetric as tools/test.py drives it: one image's predictions per process() call."""
    import torch

    from mmdet_eql.evaluation import FastLVISMetric
    metric = FastLVISMetric(
        ann_file=gt_path, metric='bbox', protocol='fixed', dets_per_cat=keep, pooled=True)
    with open(gt_path) as f:
        cats = json.load(f)['categories']
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in cats))
    cat_ids = np.array(sorted(c['id'] for c in cats))
    order = np.argsort(cols['image_id'], kind='stable')
    img = cols['image_id'][order]
    bounds = np.flatnonzero(np.r_[True, img[1:] != img[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        rows = order[a:b]
        xyxy = cols['bbox'][rows].copy()
        xyxy[:, 2:] += xyxy[:, :2]
        sample = dict(
            img_id=int(img[a]),
            ori_shape=(480, 640),
            pred_instances=dict(
                bboxes=torch.from_numpy(xyxy.astype(np.float32)),
                scores=torch.from_numpy(cols['score'][rows].astype(np.float32)),
                labels=torch.from_numpy(np.searchsorted(cat_ids, cols['category_id'][rows]))))
        metric.process({}, [sample])
    held = sum(len(r['labels']) for _, r in metric.results)
    res = metric.compute_metrics(metric.results)
    return {k.replace('bbox_', ''): v for k, v in res.items()}, held


def child(mode, work_dir, keep):
    """One evaluation; prints a JSON line: seconds, peak RSS (MiB), summary."""
    from mmdet_eql.evaluation import lvis_eval
    from mmdet_eql.evaluation.lvis_definition import lvis_eval_from_definition
    from mmdet_eql.utils.io import load_json
    gt_path = osp.join(work_dir, 'gt.json')
    gt = load_json(gt_path, what='ground truth', progress=False)
    cols = dict(np.load(osp.join(work_dir, 'dets.npz')))
    extra = {}
    if mode in ('dicts', 'reference'):
        dets = as_dicts(cols)
        del cols
    t0 = time.perf_counter()
    if mode == 'columns':
        res = lvis_eval(gt, cols, 'bbox', protocol='fixed', dets_per_cat=keep, pooled=True)
    elif mode == 'dicts':
        res = lvis_eval(gt, dets, 'bbox', protocol='fixed', dets_per_cat=keep, pooled=True)
    elif mode == 'metric':
        res, extra['held_after_last_image'] = run_metric(gt_path, cols, keep)
    else:
        res = lvis_eval_from_definition(
            gt, dets, 'bbox', protocol='fixed', dets_per_cat=keep, pooled=True)
    seconds = time.perf_counter() - t0
    res.pop('per_category', None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(dict(mode=mode, seconds=seconds, peak_rss_mib=peak, summary=res, **extra)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=19809, help='LVIS v1 val: 19,809')
    parser.add_argument('--dets-per-cat', type=int, default=11000, help='generated per category')
    parser.add_argument('--keep-per-cat', type=int, default=10000, help="AP-fixed's cap")
    parser.add_argument('--modes', nargs='+', default=list(MODES), choices=MODES)
    parser.add_argument('--skip-reference', action='store_true')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'ap_fixed_bench'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--child', choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.work_dir, args.keep_per_cat)
        return 0
    for value, flag in ((args.images, '--images'), (args.dets_per_cat, '--dets-per-cat'),
                        (args.keep_per_cat, '--keep-per-cat')):
        if value < 1:
            raise SystemExit(f'error: {flag} must be at least 1, got {value}')
    from mmdet_eql.utils.class_frequency import DATA_DIR
    os.makedirs(args.work_dir, exist_ok=True)
    rng = np.random.RandomState(args.seed)
    with open(osp.join(DATA_DIR, 'lvis_v1_category_stats.json')) as f:
        cats = json.load(f)
    t0 = time.perf_counter()
    gt = make_ground_truth(rng, args.images, cats)
    cols = make_detections(rng, gt, args.dets_per_cat)
    with open(osp.join(args.work_dir, 'gt.json'), 'w') as f:
        json.dump(gt, f)
    np.savez(osp.join(args.work_dir, 'dets.npz'), **cols)
    print(
        f'data: {len(gt["images"])} images, {len(gt["annotations"])} annotations, '
        f'{len(cols["score"])} detections ({args.dets_per_cat} per category, '
        f'{len(cats)} categories), made in {time.perf_counter() - t0:.0f} s',
        flush=True)
    modes = [m for m in args.modes if not (args.skip_reference and m == 'reference')]
    rows = []
    for mode in modes:
        print(f'[{mode}] running', flush=True)
        out = subprocess.run([
            sys.executable, '-m', 'mmdet_eql.speed.ap_fixed', '--child', mode, '--work-dir',
            args.work_dir, '--keep-per-cat',
            str(args.keep_per_cat)
        ],
                             capture_output=True,
                             text=True)
        if out.returncode:
            sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
            raise SystemExit(f'error: mode {mode} failed (exit {out.returncode})')
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f'[{mode}] {row["seconds"]:.1f} s, peak RSS {row["peak_rss_mib"]:.0f} MiB', flush=True)
        rows.append(row)
    base = rows[0]['summary']
    print(f'\n{args.images} images, {len(cols["score"])} detections, AP-fixed with '
          f'{args.keep_per_cat} per category, AP-pool; {os.cpu_count()} CPUs')
    print('| evaluator | seconds | peak RSS (MiB) | largest difference to the first row |')
    print('| --- | --- | --- | --- |')
    for r in rows:
        diff = max(abs(r['summary'][k] - base[k]) for k in base if k in r['summary'])
        print(f'| {r["mode"]} | {r["seconds"]:.1f} | {r["peak_rss_mib"]:.0f} | {diff:.1e} |')
    ref = next((r for r in rows if r['mode'] == 'reference'), None)
    if ref:
        for r in rows:
            if r is not ref:
                print(f'{r["mode"]}: {ref["seconds"] / r["seconds"]:.1f}x faster than the '
                      'plain-Python evaluator')
    print('summary (first row):', {k: round(v, 4) for k, v in base.items()})
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
