"""The benchmark's classification runner: softmax cross-entropy against the softmax EQL on the
long-tailed classification set (``tools/benchmark/run_cls.py``).

    python tools/benchmark/run_cls.py --imbalance 100 200 --seeds 0 1 2 --jobs 2 [--report-only]

For each imbalance, makes the set if it is missing (data/longtail_cls_ir{N}/,
:mod:`mmdet_eql.benchmark.synthetic.classification`), trains every method's leaf (the
``configs/classification/*_longtail-cls.py`` files, each stating ``benchmark = dict(method=...,
label=...)``; :func:`mmdet_eql.benchmark.methods.discover_methods`) per seed with tools/train.py,
reads the validation's top-1 and many / medium / few-shot accuracy, and writes WORK_DIR/results.md,
results.json and results.png (mean and sample std over the seeds). Each run's work dir holds its
definition (run.json) and its metrics (eval.json), as the detection runner's do
(:mod:`mmdet_eql.benchmark.runs`): a finished run of the same definition is reused, one of another
definition is refused unless --retrain.
"""
import argparse
import functools
import glob
import json
import os
import os.path as osp
import sys
import time

import numpy as np

from mmdet_eql.benchmark.methods import discover_methods
from mmdet_eql.benchmark.runs import (check_record, launch, run_dir, run_in_parallel, say,
                                      write_record)
from mmdet_eql.utils import load_json, write_json
from mmdet_eql.utils.paths import REPO_ROOT, repo_path

#: the classification leaves (each states its method and label)
LEAVES = repo_path('configs', 'classification', '*_longtail-cls.py')
KEYS = ('top1', 'many_shot', 'medium_shot', 'few_shot')


def methods() -> dict:
    """{method: (leaf, label)} of the classification leaves."""
    return discover_methods(LEAVES)


def label(method: str) -> str:
    return methods().get(method, (None, method))[1]


def env_of(data_root: str, epochs: int) -> dict:
    """The environment variables the classification leaves read."""
    return dict(LONGTAIL_CLS_DATA_ROOT=data_root, LONGTAIL_CLS_EPOCHS=str(epochs))


def resolved_config(method: str, data_root: str, epochs: int) -> str:
    """The leaf as it runs (its bases merged, the set's folder and the epochs in): a change in a
    base config changes the definition too."""
    from mmdet_eql.utils.run_config import config_from_env
    cfg = config_from_env(methods()[method][0], env_of(data_root, epochs))
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return text.replace(osp.dirname(data_root.rstrip('/')) + '/', '')  # no machine path


def definition(method, seed, imbalance, args, data_root) -> dict:
    return dict(
        method=method,
        seed=seed,
        imbalance=imbalance,
        epochs=args.epochs,
        config=resolved_config(method, data_root, args.epochs))


def work_dir(args, method, seed, imbalance) -> str:
    return run_dir(osp.join(args.work_dir, f'ir{imbalance:g}'), method, seed)


def read_metrics(wd: str) -> dict:
    """The last validation's metrics in the run's mmengine scalars log."""
    rows = [
        json.loads(line) for p in glob.glob(osp.join(wd, '*', 'vis_data', 'scalars.json'))
        for line in open(p)
    ]
    final = [r for r in rows if 'cls/top1' in r]
    if not final:
        raise RuntimeError(f'{wd}: no validation metrics logged')
    return {k: final[-1][f'cls/{k}'] for k in KEYS}


def run_one(method, seed, imbalance, args, data_root, threads) -> dict:
    """Trains (unless a finished run of this definition is there) and returns its metrics."""
    wd = work_dir(args, method, seed, imbalance)
    want = definition(method, seed, imbalance, args, data_root)
    if check_record(wd, want, args.retrain, finished_files=('eval.json', )):
        say(f'[cls] ir{imbalance:g} {method} seed {seed}: done earlier ({wd})')
        return load_json(osp.join(wd, 'eval.json'), progress=False)
    os.makedirs(wd, exist_ok=True)
    write_record(wd, want, 'training')
    say(f'[cls] training ir{imbalance:g} {method} seed {seed} -> {wd}')
    t0 = time.perf_counter()
    launch([
        sys.executable,
        repo_path('tools', 'train.py'),
        methods()[method][0], '--work-dir', wd, '--cfg-options', f'randomness.seed={seed}'
    ],
           log=osp.join(wd, 'run.log'),
           threads=threads,
           env=dict(
               env_of(data_root, args.epochs),
               CUDA_VISIBLE_DEVICES=os.environ.get('CUDA_VISIBLE_DEVICES', '')),
           cwd=REPO_ROOT)
    metrics = read_metrics(wd)
    write_json(metrics, osp.join(wd, 'eval.json'))
    write_record(wd, want, 'finished')
    say(f'[cls] ir{imbalance:g} {method} seed {seed}: top-1 {metrics["top1"]:.2f}, few-shot '
        f'{metrics["few_shot"]:.2f} ({time.perf_counter() - t0:.0f} s)')
    return metrics


def finished(method, seed, imbalance, args, data_root):
    """The metrics of the finished run of this definition in the work dir, None without one."""
    wd = work_dir(args, method, seed, imbalance)
    want = definition(method, seed, imbalance, args, data_root)
    if check_record(wd, want, False, finished_files=('eval.json', )):
        return load_json(osp.join(wd, 'eval.json'), progress=False)
    return None


def table(results, args) -> str:
    lines = []
    for imb in args.imbalance:
        lines += [
            '', f'Imbalance {imb:g} (top-1 %, mean ± sample std over the seeds; balanced val):', '',
            '| method | seeds | top-1 | many-shot | medium-shot | few-shot |',
            '| --- | --- | --- | --- | --- | --- |'
        ]
        for m in args.methods:
            runs = list(results[imb][m].values())
            if not runs:
                continue
            cells = []
            for k in KEYS:
                v = np.array([r[k] for r in runs], float)
                if (v < 0).all():  # no class of the group in this set
                    cells.append('-')
                    continue
                cells.append(f'{v.mean():.1f} ± {v.std(ddof=1):.1f}' if len(v) >
                             1 else f'{v[0]:.1f}')
            lines.append(f'| {label(m)} | {len(runs)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot(results, args, out_file):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(
        1, len(args.imbalance), figsize=(5 * len(args.imbalance), 3.6), squeeze=False)
    for ax, imb in zip(axes[0], args.imbalance):
        x = np.arange(len(KEYS))
        width = 0.8 / len(args.methods)
        for i, m in enumerate(args.methods):
            v = np.array([[r[k] for k in KEYS] for r in results[imb][m].values()], float)
            if not len(v):
                continue
            ax.bar(
                x + i * width,
                v.mean(0),
                width,
                yerr=v.std(0, ddof=1) if len(v) > 1 else None,
                label=label(m),
                capsize=2)
        ax.set_xticks(x + width * (len(args.methods) - 1) / 2, ['top-1', 'many', 'medium', 'few'])
        ax.set_ylabel('accuracy (%)')
        ax.set_title(f'imbalance {imb:g}', fontsize=10)
        ax.grid(axis='y', alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_file, dpi=130)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--imbalance', type=float, nargs='+', default=[100, 200])
    parser.add_argument('--methods', nargs='+', help='default: every classification leaf')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--max-count', type=int, default=300, help='train images, largest class')
    parser.add_argument('--jobs', type=int, default=1, help='trainings at once (one thread each)')
    parser.add_argument('--data-dir', default='data', help='where the sets are made')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'benchmark_cls'))
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='train nothing: report the finished runs of the work dir')
    parser.add_argument('--retrain', action='store_true')
    args = parser.parse_args(argv)
    known = methods()
    args.methods = args.methods or list(known)
    for m in args.methods:
        if m not in known:
            parser.error(f'--methods: no classification leaf states method {m!r} (known: '
                         f'{", ".join(known)}; leaves: {osp.relpath(LEAVES, REPO_ROOT)})')
    for value, flag in ((args.epochs, '--epochs'), (args.jobs, '--jobs'), (args.max_count,
                                                                           '--max-count')):
        if value < 1:
            parser.error(f'{flag} must be at least 1, got {value}')
    return args


def ensure_set(args, imbalance: float) -> str:
    """The set's folder (made when missing; another set there is an error), ending in '/'."""
    from mmdet_eql.benchmark.synthetic.classification import make_set
    root = osp.join(args.data_dir, f'longtail_cls_ir{imbalance:g}')
    info_file = osp.join(root, 'info.json')
    if not osp.isfile(info_file):
        say(f'[cls] making the set {root}')
        make_set(root, imbalance, args.max_count)
    info = load_json(info_file, progress=False)
    if info['imbalance'] != imbalance or info['max_count'] != args.max_count:
        raise SystemExit(f'error: {root} holds another set ({info}); remove it or pass '
                         '--data-dir')
    return osp.abspath(root) + '/'


def main(argv=None) -> int:
    args = parse_args(argv)
    roots = {imb: ensure_set(args, imb) for imb in args.imbalance}
    jobs = [(m, s, imb) for imb in args.imbalance for m in args.methods for s in args.seeds]
    results = {imb: {m: {} for m in args.methods} for imb in args.imbalance}
    failed = []
    if args.report_only:
        for m, s, imb in jobs:
            metrics = finished(m, s, imb, args, roots[imb])
            if metrics is None:
                print(f'[cls] ir{imb:g} {m} seed {s}: no finished run, left out of the report')
            else:
                results[imb][m][s] = metrics
    else:
        threads = 1 if args.jobs > 1 else None
        done, failed = run_in_parallel(
            {job: functools.partial(run_one, *job, args, roots[job[2]], threads)
             for job in jobs},
            args.jobs,
            logs={job: osp.join(work_dir(args, *job), 'run.log')
                  for job in jobs},
            totals={job: args.epochs
                    for job in jobs},
            unit='epoch',
            prefix='[cls]',
            name=lambda job: f'ir{job[2]:g} {job[0]} seed {job[1]}')
        for (m, s, imb), metrics in done.items():
            results[imb][m][s] = metrics
    if not any(r for by_method in results.values() for r in by_method.values()):
        raise SystemExit(f'error: no finished run in {args.work_dir}')
    os.makedirs(args.work_dir, exist_ok=True)
    text = table(results, args)
    print(text)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump({f'{imb:g}': r for imb, r in results.items()}, f, indent=1)
    plot(results, args, osp.join(args.work_dir, 'results.png'))
    print(f'[cls] results: {args.work_dir}/results.md, results.json, results.png')
    if failed:
        print('[cls] failed, left out of the report:\n  ' + '\n  '.join(failed), file=sys.stderr)
        return 1
    return 0
