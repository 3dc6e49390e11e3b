"""The main job: the embedded long-tailed benchmark, end to end.

    python tools/misc/run_longtail_demo.py [--preset small] [--seeds 0 1 2]
                                           [--methods softmax sigmoid eql eql-rare eqlv2
                                            seesaw eqlv2-mmdet focal efl]

1. generates the dataset (data/longtail_{preset}/, skipped when it is already there);
2. trains each method's config (configs/longtail-demo/) with tools/train.py, same seed and schedule;
3. tests each with tools/test.py, then evaluates its detections on both val files: the LVIS-like
   one (federated negatives) and the strict one (every absent class is a negative);
4. prints a comparison table (bbox and segm, boxes only for the one-stage focal and efl: AP, APr,
   APc, APf; mean and spread over seeds) and
   writes results.json, results.md and two plots under work_dirs/longtail_demo/.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from mmdet_eql.evaluation import lvis_eval  # noqa: E402
from mmdet_eql.utils import load_json  # noqa: E402
from mmdet_eql.visualization import plots  # noqa: E402

CONFIG_DIR = osp.join(ROOT, 'configs', 'longtail-demo')
METHODS = {
    'softmax': 'mask-rcnn_r18-half_fpn_random-900it_longtail-small.py',
    'sigmoid': 'mask-rcnn_r18-half_fpn_sigmoid_random-900it_longtail-small.py',
    'eql': 'mask-rcnn_r18-half_fpn_eql_random-900it_longtail-small.py',
    'eql-rare': 'mask-rcnn_r18-half_fpn_eql-rare_random-900it_longtail-small.py',
    'eqlv2': 'mask-rcnn_r18-half_fpn_eqlv2_random-900it_longtail-small.py',
    'seesaw': 'mask-rcnn_r18-half_fpn_seesaw-loss_random-900it_longtail-small.py',
    'eqlv2-mmdet': 'mask-rcnn_r18-half_fpn_eqlv2-mmdet_random-900it_longtail-small.py',
    'focal': 'atss_r18-half_fpn_random-900it_longtail-small.py',
    'efl': 'atss_r18-half_fpn_efl_random-900it_longtail-small.py',
}
#: one-stage detectors: boxes only, the head is model.bbox_head
ONE_STAGE = ('focal', 'efl')
#: methods whose loss config needs num_classes
LOSS_NUM_CLASSES = ('sigmoid', 'eql', 'eql-rare', 'eqlv2', 'seesaw', 'eqlv2-mmdet', 'efl')
#: methods whose (frequency-aware) head reads the class-frequency file
FREQ_AWARE = ('sigmoid', 'eql', 'eql-rare', 'eqlv2')
LABELS = {
    'softmax': 'softmax CE (mmdet)',
    'sigmoid': 'sigmoid BCE, lambda=0',
    'eql': 'EQL, rare+common',
    'eql-rare': 'EQL, rare only',
    'eqlv2': 'EQLv2 (ours)',
    'seesaw': 'Seesaw (mmdet)',
    'eqlv2-mmdet': 'EQLV2Loss (mmdet, as shipped)',
    'focal': 'ATSS, focal loss',
    'efl': 'ATSS, EFL',
}
KEYS = ('AP', 'APr', 'APc', 'APf')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', default='small', help='dataset preset (tiny, small, large)')
    parser.add_argument('--data-root', help='default: data/longtail_{preset}/')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    # the default is the main job, the like-for-like baseline and EQL, which fits 30 minutes
    # on a 2-core CPU; mmdet's softmax baseline adds about 10 more (three models measured 30.5 min)
    parser.add_argument(
        '--methods',
        nargs='+',
        default=['sigmoid', 'eql'],
        choices=sorted(METHODS),
        help='default: sigmoid eql')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'longtail_demo'))
    parser.add_argument('--max-iters', type=int, help='override the schedule length')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], help='extra key=value overrides for every run')
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='train nothing: report the finished runs of the work dir among --methods and '
        '--seeds (each method over the seeds it has)')
    parser.add_argument(
        '--retrain',
        action='store_true',
        help='train again even when a finished run is in the work dir')
    return parser.parse_args(argv)


def ensure_dataset(preset: str, data_root: str) -> None:
    ann = osp.join(data_root, 'annotations', 'train.json')
    if osp.isfile(osp.join(data_root, 'annotations', 'class_freq.json')):
        with open(ann) as f:
            info = json.load(f).get('info', {})
        if f'preset {preset},' in info.get('description', ''):
            print(f'[demo] dataset {data_root} is there ({info["description"]})')
            return
        raise SystemExit(f'error: {data_root} holds another dataset ({info.get("description")}); '
                         'remove it or pass --data-root')
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'misc', 'make_longtail_dataset.py'), data_root, '--preset', preset,
        '--seed', '0'
    ]
    if osp.isdir(data_root) and os.listdir(data_root):
        cmd.append('--overwrite')  # an unfinished earlier generation
    subprocess.run(cmd, check=True)


def run_overrides(args, method: str, data_root: str, num_classes: int, image_size: int) -> list:
    root = data_root.rstrip('/') + '/'
    if method in ONE_STAGE:
        heads = [f'model.bbox_head.num_classes={num_classes}']
    else:
        heads = [
            f'model.roi_head.bbox_head.num_classes={num_classes}',
            f'model.roi_head.mask_head.num_classes={num_classes}',
        ]
    opts = heads + [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/val_lvis.json',
        f'test_evaluator.ann_file={root}annotations/val_lvis.json',
    ]
    for split in ('train', 'test'):
        pipeline = 'train_dataloader.dataset.pipeline.2.scale' if split == 'train' else \
            'test_dataloader.dataset.pipeline.1.scale'
        opts.append(f'{pipeline}=({image_size},{image_size})')
    if args.max_iters:
        m = args.max_iters
        opts += [
            f'train_cfg.max_iters={m}', f'train_cfg.val_interval={m + 1}',
            f'default_hooks.checkpoint.interval={m}', f'param_scheduler.1.end={m}',
            f'param_scheduler.1.milestones=[{m * 2 // 3},{m * 8 // 9}]'
        ]
    else:
        opts.append('train_cfg.val_interval=100000')  # evaluated once, by tools/test.py
    return opts + list(args.cfg_options)


def method_overrides(method: str, data_root: str, num_classes: int) -> list:
    root = data_root.rstrip('/') + '/'
    head = 'model.bbox_head' if method in ONE_STAGE else 'model.roi_head.bbox_head'
    opts = []
    if method in FREQ_AWARE:
        opts.append(f'{head}.class_freq={root}annotations/class_freq.json')
    if method in LOSS_NUM_CLASSES:
        opts.append(f'{head}.loss_cls.num_classes={num_classes}')
    return opts


def train_and_test(method: str, seed: int, args, data_root, num_classes, image_size) -> str:
    wd = osp.join(args.work_dir, f'{method}_seed{seed}')
    config = osp.join(CONFIG_DIR, METHODS[method])
    opts = run_overrides(args, method, data_root, num_classes, image_size) + method_overrides(
        method, data_root, num_classes) + [f'randomness.seed={seed}']
    prefix = osp.join(wd, 'dets')
    if osp.isfile(prefix + '.bbox.json') and not args.retrain:
        print(f'[demo] {method} seed {seed}: done earlier ({wd})')
        return prefix
    ckpt = osp.join(wd, 'last_checkpoint')
    t0 = time.perf_counter()
    if args.retrain or not osp.isfile(ckpt):
        print(f'[demo] training {method} (seed {seed}) -> {wd}', flush=True)
        subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', wd, '--cfg-options', *opts
        ],
                       check=True)
    with open(ckpt) as f:
        weights = f.read().strip()
    print(f'[demo] testing {method} (seed {seed})', flush=True)
    subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), config, weights, '--work-dir', wd, '--cfg-options',
        *opts, f'test_evaluator.outfile_prefix={prefix}'
    ],
                   check=True)
    print(f'[demo] {method} seed {seed}: {time.perf_counter() - t0:.0f} s', flush=True)
    return prefix


def evaluate(prefix: str, data_root: str) -> dict:
    out = {}
    for val in ('lvis', 'strict'):
        gt = load_json(osp.join(data_root, 'annotations', f'val_{val}.json'), progress=False)
        for iou in ('bbox', 'segm'):
            if osp.isfile(f'{prefix}.{iou}.json'):  # one-stage detectors have no masks
                out[f'{iou}/{val}'] = lvis_eval(gt, f'{prefix}.{iou}.json', iou, per_category=True)
    return out


def mean_spread(values):
    v = np.array(values, dtype=float) * 100
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else 0.0)


def report(all_results: dict, args, data_root: str) -> str:
    panels = [('bbox/lvis', 'bbox, LVIS-like val'), ('segm/lvis', 'segm, LVIS-like val'),
              ('bbox/strict', 'bbox, strict val'), ('segm/strict', 'segm, strict val')]
    methods = [m for m in args.methods if all_results.get(m)]
    seeds_of = {m: sorted(all_results[m]) for m in methods}
    all_seeds = sorted({s for m in methods for s in seeds_of[m]})
    lines = [
        f'Embedded long-tailed benchmark, preset {args.preset}, seeds {all_seeds}: AP in %, '
        'mean ± sample std over the seeds of each method (one seed: no spread)'
    ]
    for val, title in (('lvis', 'LVIS-like val (federated negatives)'),
                       ('strict', 'strict val (every absent class a negative)')):
        lines += [
            '', f'{title}:', '', '| method | seeds | ' + ' | '.join(f'{iou} {k}'
                                                                    for iou in ('box', 'mask')
                                                                    for k in KEYS) + ' |',
            '|' + ' --- |' * (2 + 2 * len(KEYS))
        ]
        for m in methods:
            seeds = seeds_of[m]
            cells = []
            for iou in ('bbox', 'segm'):
                for k in KEYS:
                    if f'{iou}/{val}' not in all_results[m][seeds[0]]:
                        cells.append('-')
                        continue
                    mu, sd = mean_spread([all_results[m][s][f'{iou}/{val}'][k] for s in seeds])
                    cells.append(f'{mu:.1f}' + (f' ± {sd:.1f}' if len(seeds) > 1 else ''))
            lines.append(f'| {LABELS[m]} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) +
                         ' |')
    text = '\n'.join(lines)

    # plots: seed-averaged group AP; per-category AP of the first seed
    group = {
        title: {
            LABELS[m]: {
                k: np.mean([all_results[m][s][key][k] for s in seeds_of[m]])
                for k in KEYS
            }
            for m in methods if key in all_results[m][seeds_of[m][0]]
        }
        for key, title in panels
    }
    plots.plot_group_ap(
        group,
        osp.join(args.work_dir, 'ap_by_group.png'),
        title=f'Embedded long-tailed benchmark ({args.preset}), mean over the seeds of each method')
    with open(osp.join(data_root, 'annotations', 'train.json')) as f:
        counts, groups = plots.category_stats(json.load(f)['categories'])
    per_cat = {
        LABELS[m]: {
            c: float(
                np.mean([all_results[m][s]['bbox/lvis']['per_category'][c] for s in seeds_of[m]]))
            for c in all_results[m][seeds_of[m][0]]['bbox/lvis']['per_category']
        }
        for m in methods
    }
    plots.plot_per_category_ap(
        per_cat,
        counts,
        groups,
        osp.join(args.work_dir, 'per_category_ap.png'),
        title='Per-category bbox AP (LVIS-like val) against training images')
    return text + grad_ratio_report(methods, seeds_of, args)


def grad_ratio_report(methods, seeds_of, args) -> str:
    """The gradient-ratio monitor's reports (two-stage runs): a table of the mean ratio per
    frequency group, mean over seeds, and a plot of the first seed's per-class ratios."""
    found = {}
    for m in methods:
        reps = []
        for s in seeds_of[m]:
            files = sorted(
                glob.glob(osp.join(args.work_dir, f'{m}_seed{s}', '*', 'grad_ratio.json')))
            if files:
                reps.append(load_json(files[-1], progress=False))
        if reps:
            found[m] = reps
    if not found:
        return ''
    lines = [
        '', 'Mean positive/negative gradient ratio of the RoI classifier per frequency group '
        '(GradientRatioMonitorHook; a class with g << 1 is pushed down far more than up):', '',
        '| method | seeds | rare | common | frequent |', '| --- | --- | --- | --- | --- |'
    ]
    for m, reps in found.items():
        cells = [f"{np.mean([r['mean_ratio_by_group'][g] for r in reps]):.3g}" for g in 'rcf']
        lines.append(f'| {LABELS[m]} | {len(reps)} | ' + ' | '.join(cells) + ' |')
    plots.plot_grad_ratio_compare({
        LABELS[m]: reps[0]
        for m, reps in found.items()
    }, osp.join(args.work_dir, 'grad_ratio.png'))
    return '\n' + '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    data_root = args.data_root or osp.join('data', f'longtail_{args.preset}')
    ensure_dataset(args.preset, data_root)
    with open(osp.join(data_root, 'annotations', 'train.json')) as f:
        train = json.load(f)
    num_classes = len(train['categories'])
    image_size = int(train['info']['preset']['image_size'])
    os.makedirs(args.work_dir, exist_ok=True)
    all_results = {}
    for m in args.methods:
        all_results[m] = {}
        for s in args.seeds:
            if args.report_only:
                prefix = osp.join(args.work_dir, f'{m}_seed{s}', 'dets')
                if not osp.isfile(prefix + '.bbox.json'):
                    print(f'[demo] {m} seed {s}: no finished run, left out of the report')
                    continue
            else:
                prefix = train_and_test(m, s, args, data_root, num_classes, image_size)
            all_results[m][s] = evaluate(prefix, data_root)
    if not any(all_results.values()):
        raise SystemExit(f'error: no finished run in {args.work_dir} for these methods and seeds')
    text = report(all_results, args, data_root)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(
                preset=args.preset,
                seeds=args.seeds,
                methods=args.methods,
                results={
                    m: {
                        str(s): r
                        for s, r in v.items()
                    }
                    for m, v in all_results.items()
                }),
            f,
            indent=1,
            default=str)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    extra = ', grad_ratio.png' if osp.isfile(osp.join(args.work_dir, 'grad_ratio.png')) else ''
    print(f'\n[demo] plots: {args.work_dir}/ap_by_group.png, {args.work_dir}/per_category_ap.png' +
          extra)
    print(f'[demo] total {time.perf_counter() - t0:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
