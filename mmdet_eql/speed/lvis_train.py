"""What the real LVIS leaves cost: training and test speed, memory, and the evaluator at LVIS scale.

    python tools/speed/lvis_train.py [--iters 50] [--batch 2]
        [--leaves configs/eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py
                  configs/eql/mask-rcnn_r50_fpn_eql_random-ms-1x_lvis-v1.py]
        [--val-images 20] [--short-side 800] [--eval-images 19809] [--work-dir DIR]

1. writes a synthetic dataset in the exact LVIS v1 format (1203 real categories, 12.7 objects per
   image on average as LVIS v1 train, tools/misc/make_lvis_format_data.py), ``iters x batch``
   train images, so one epoch is ``--iters`` iterations;
2. trains each leaf for one epoch with ``tools/train.py`` (its real pipeline, sampler, weight
   initialisation; logging every iteration, no validation) and reads the logged seconds per
   iteration (median after the first 5) and the peak memory (CUDA: mmengine's logged maximum
   allocated; CPU: the peak resident memory of the training process);
3. tests each checkpoint with ``tools/test.py`` on ``--val-images`` images (LVIS's score
   threshold 1e-4 and 300 detections per image, as the leaves set them): seconds per image;
4. times ``lvis_eval`` (FastLVISMetric's evaluator, bbox) on ``--eval-images`` generated
   images with 300 detections each (LVIS v1 val: 19,809 images) and its peak memory;
5. prints a table: per leaf, s/iter, peak memory, step time against the first leaf (the
   baseline), test s/image, and the wall time of the leaf's schedule (12 epochs of LVIS v1 train,
   100,170 images) on ``--gpus`` GPUs at ``--batch`` images each, assuming linear scaling.

Needs the ImageNet ResNet file in torch's hub cache or a network (configs/README.md).
``--short-side`` shrinks every resize in the pipelines (for a quick try on a CPU).
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import resource
import subprocess
import sys
import time

import numpy as np

from mmdet_eql.utils.paths import REPO_ROOT as ROOT

DEFAULT_LEAVES = [
    'configs/eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py',
    'configs/eql/mask-rcnn_r50_fpn_eql_random-ms-1x_lvis-v1.py',
]
LVIS_V1_TRAIN_IMAGES = 100_170
LVIS_V1_VAL_IMAGES = 19_809


def _shrink(pipeline, short):
    """Every resize of ``pipeline`` to a short side of ``short``; a multi-scale one to scales from
    ``short`` down by 1/10 of it a step, at least half of it (a cascade's RPN keeps only anchors
    inside the image, mmdet's ``allowed_border=0``, and finds none in a much smaller one)."""
    long = short * 5 // 3
    for t in pipeline:
        if 'scale' in t:
            t.scale = (long, short)
        if 'scales' in t:
            t.scales = [(long, max(short // 2, short - short // 10 * i))
                        for i in range(len(t.scales))]


def lvis_run_config(leaf: str,
                    data_root: str,
                    out_path: str,
                    short_side=None,
                    batch_size=None,
                    validate=True,
                    proposals=None,
                    detections=None,
                    rois=None):
    """The leaf, pointed at ``data_root`` (``set_data_root``, as ``tools/train.py --data-root``),
    for one epoch, logging every iteration, without dataloader workers, written to ``out_path``.
    Pipelines are changed by transform type, never by position: with ``short_side``, every
    ``scale`` / ``scales`` of a resize shrinks to it. ``validate=False``: no validation after the
    epoch (mmengine validates after the last epoch whatever the interval, so validation starts
    after it). ``proposals``: RPN proposals an image at test (a two-stage leaf's 1000 make its
    untrained 1203-class head score 1.2 million boxes an image above LVIS's threshold).
    ``detections``: detections an image at test (the leaves: 300; a Mask R-CNN head predicts
    300 x 1203 masks of 28 x 28 for them, about 5 s an image on a 2-core CPU). ``rois``: RoIs
    sampled an image in training, in every stage (a C4 leaf's 512 go through res5 each: 83 s an
    iteration of 2 images on one thread of this CPU)."""
    from mmengine.config import Config

    from mmdet_eql.utils.run_config import LOADERS, inner_dataset, set_data_root
    cfg = Config.fromfile(leaf if osp.isabs(leaf) else osp.join(ROOT, leaf))
    set_data_root(cfg, data_root)
    for loader in LOADERS:
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        if short_side:
            _shrink(inner_dataset(cfg[loader]).pipeline, short_side)
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    if cfg.train_cfg.get('type', 'EpochBasedTrainLoop') == 'EpochBasedTrainLoop':
        cfg.train_cfg.max_epochs = 1  # (an iteration-based leaf: tools/train.py --max-iters)
    if not validate:
        cfg.train_cfg.val_begin = 2  # after the only epoch: never
    if proposals and 'rpn' in cfg.model.get('test_cfg', {}):
        cfg.model.test_cfg.rpn.max_per_img = proposals
    if detections:
        test_cfg = cfg.model.test_cfg
        (test_cfg.rcnn if 'rcnn' in test_cfg else test_cfg).max_per_img = detections
    if rois and 'rcnn' in cfg.model.get('train_cfg', {}):  # (a one-stage leaf samples no RoIs)
        rcnn = cfg.model.train_cfg.rcnn
        for stage in (rcnn if isinstance(rcnn, list) else [rcnn]):
            stage.sampler.num = rois
    cfg.default_hooks.logger.interval = 1
    cfg.dump(out_path)
    return cfg


def _run(cmd, env):
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if res.returncode:
        sys.stderr.write(res.stdout[-4000:] + res.stderr[-4000:])
        raise SystemExit(f'error: {" ".join(cmd[1:3])} failed (exit {res.returncode})')
    return res.stdout + res.stderr, time.perf_counter() - t0


def train_log_rows(work_dir):
    """The training iterations mmengine logged in ``work_dir`` (scalars.json rows with a loss,
    each with its seconds per iteration under 'time')."""
    rows = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        rows += [json.loads(line) for line in open(path)]
    return [r for r in rows if 'loss' in r]


def measure_leaf(leaf, data_root, work_dir, args, env):
    name = osp.splitext(osp.basename(leaf))[0]
    wd = osp.join(work_dir, name)
    os.makedirs(wd, exist_ok=True)
    cfg_path = osp.join(wd, name + '.py')
    lvis_run_config(
        leaf,
        data_root,
        cfg_path,
        args.short_side,
        args.batch,
        validate=False,
        proposals=args.test_proposals,
        detections=args.test_detections)
    print(f'[cost] training {name} for {args.iters} iterations', flush=True)
    _, train_wall = _run([sys.executable, 'tools/train.py', cfg_path, '--work-dir', wd], env)
    rss_train = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB (Linux: KiB)
    rows = train_log_rows(wd)
    times = [r['time'] for r in rows]
    steady = times[5:] if len(times) > 8 else times[1:] or times
    cuda_mem = [r['memory'] for r in rows if 'memory' in r]
    print(f'[cost] testing {name} on {args.val_images} images', flush=True)
    log, test_wall = _run(
        [sys.executable, 'tools/test.py', cfg_path,
         osp.join(wd, 'epoch_1.pth'), '--work-dir', wd], env)
    test_times = [
        float(t) for t in re.findall(r'Iter\(test\) \[\d+/\d+\].*?\stime: ([0-9.]+)', log)
    ]
    return dict(
        leaf=leaf,
        s_per_iter=float(np.median(steady)),
        iters_logged=len(times),
        peak_mem_mib=float(max(cuda_mem)) if cuda_mem else rss_train,
        mem_kind='CUDA max allocated' if cuda_mem else 'peak RSS (all processes so far)',
        test_s_per_img=float(np.median(test_times)) if test_times else test_wall / args.val_images,
        train_wall_s=train_wall,
        test_wall_s=test_wall)


def measure_evaluator(num_images):
    from mmdet_eql.evaluation import lvis_eval
    from mmdet_eql.speed.lvis_eval import make_set
    gt, dets = make_set(num_images, 300, masks=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    lvis_eval(gt, dets, 'bbox')
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(
        images=num_images,
        detections=len(dets),
        seconds=seconds,
        peak_rss_mib=peak,
        rss_before_mib=before)


def device_line():
    import torch
    if torch.cuda.is_available():
        dev = torch.cuda.get_device_name(0)
    else:
        dev = f'CPU only ({os.cpu_count()} cores)'
    return f'{dev}, torch {torch.__version__}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--leaves',
        nargs='+',
        default=DEFAULT_LEAVES,
        help='LVIS v1 leaves; the first is the baseline of the ratio column')
    parser.add_argument('--iters', type=int, default=50)
    parser.add_argument('--batch', type=int, default=2, help='images per GPU (per process)')
    parser.add_argument('--val-images', type=int, default=20)
    parser.add_argument('--objects', type=float, default=12.7, help='mean objects per image')
    parser.add_argument('--short-side', type=int, help='shrink every resize (default: LVIS scale)')
    parser.add_argument(
        '--eval-images',
        type=int,
        default=LVIS_V1_VAL_IMAGES,
        help='images of the evaluator timing (0: skip)')
    parser.add_argument(
        '--test-proposals',
        type=int,
        help="RPN proposals an image at test (default: the leaf's; a smoke run on a CPU: 100)")
    parser.add_argument(
        '--test-detections',
        type=int,
        help="detections an image at test (default: the leaf's; a smoke run on a CPU: 30)")
    parser.add_argument('--gpus', type=int, default=8, help='GPUs of the schedule estimate')
    parser.add_argument('--epochs', type=int, default=12, help='epochs of the estimate (1x: 12)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'lvis_cost'))
    args = parser.parse_args(argv)
    for value, flag in ((args.iters, '--iters'), (args.batch, '--batch'), (args.val_images,
                                                                           '--val-images'),
                        (1 if args.test_proposals is None else args.test_proposals,
                         '--test-proposals'),
                        (1 if args.test_detections is None else args.test_detections,
                         '--test-detections')):
        if value < 1:
            raise SystemExit(f'error: {flag} must be at least 1, got {value}')
    for leaf in args.leaves:
        if not osp.isfile(osp.join(ROOT, leaf)) and not osp.isfile(leaf):
            raise SystemExit(f'error: --leaves: no config file {leaf}')
    from mmdet_eql.datasets.synthetic_lvis import make_lvis_format
    work_dir = osp.abspath(args.work_dir)
    data_root = make_lvis_format(
        osp.join(work_dir, 'data'),
        'v1',
        num_train=args.iters * args.batch,
        num_val=args.val_images,
        mean_objects=args.objects,
        progress=True)
    env = dict(os.environ)
    results = [measure_leaf(leaf, data_root, work_dir, args, env) for leaf in args.leaves]
    evaluator = measure_evaluator(args.eval_images) if args.eval_images > 0 else None

    base = results[0]['s_per_iter']
    iters_1x = args.epochs * LVIS_V1_TRAIN_IMAGES / (args.gpus * args.batch)
    print(f'\n{device_line()}; {args.iters} iterations at batch {args.batch}, '
          f'{"short side " + str(args.short_side) if args.short_side else "LVIS scale"}, '
          f'synthetic LVIS v1 data ({args.objects:g} objects per image)' +
          ''.join(f'; {n} {what} an image at test'
                  for n, what in ((args.test_proposals, 'proposals'),
                                  (args.test_detections, 'detections')) if n))
    print(f'\n| leaf | s/iter | peak memory (MiB) | step time / first leaf | test s/image | '
          f'{args.epochs} epochs on {args.gpus} GPUs (h) |')
    print('| --- | --- | --- | --- | --- | --- |')
    for r in results:
        hours = iters_1x * r['s_per_iter'] / 3600
        print(f'| {osp.basename(r["leaf"])} | {r["s_per_iter"]:.3f} | {r["peak_mem_mib"]:.0f} | '
              f'{r["s_per_iter"] / base:.3f}x | {r["test_s_per_img"]:.3f} | {hours:.1f} |')
    print(f'\nmemory: {results[0]["mem_kind"]}; the estimate assumes linear scaling over GPUs '
          f'({iters_1x:.0f} iterations of {args.gpus} x {args.batch} images)')
    if evaluator:
        print(f'lvis_eval (bbox) on {evaluator["images"]} images, {evaluator["detections"]} '
              f'detections: {evaluator["seconds"]:.1f} s, peak RSS of this process '
              f'{evaluator["peak_rss_mib"]:.0f} MiB ({evaluator["rss_before_mib"]:.0f} before)')
    with open(osp.join(work_dir, 'cost.json'), 'w') as f:
        json.dump(dict(device=device_line(), leaves=results, evaluator=evaluator), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
