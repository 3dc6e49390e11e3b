"""Softmax cross-entropy against the softmax EQL on the embedded long-tailed classification set.

    python tools/misc/run_longtail_cls.py --imbalance 100 200 --seeds 0 1 2 --jobs 2

For each imbalance, makes the set if it is missing (tools/misc/make_longtail_cls_dataset.py,
data/longtail_cls_ir{N}/), trains every method's leaf (configs/classification/
resnet8_{method}_12e_longtail-cls.py) per seed with tools/train.py, reads the validation's top-1
and many / medium / few-shot accuracy, and writes WORK_DIR/results.md, results.json and
results.png (mean and sample std over the seeds). A finished run of the same definition is reused;
one of another definition is refused unless --retrain.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))
sys.path.insert(0, ROOT)

METHODS = ('ce', 'seql-g0.75', 'seql-g0.9', 'seql-g0.95')
LABELS = {
    'ce': 'softmax CE',
    'seql-g0.75': 'SEQL, gamma 0.75',
    'seql-g0.9': 'SEQL, gamma 0.9',
    'seql-g0.95': 'SEQL, gamma 0.95'
}
KEYS = ('top1', 'many_shot', 'medium_shot', 'few_shot')
#: the environment variables a config reads are process-wide: one config read at a time


def leaf(method: str) -> str:
    return osp.join(ROOT, 'configs', 'classification', f'resnet8_{method}_12e_longtail-cls.py')


def resolved_config(method: str, data_root: str, epochs: int) -> str:
    """The leaf as it runs (its bases merged, the set's folder and the epochs in): a change in a
    base config changes the definition too."""
    from mmdet_eql.utils.run_config import config_from_env
    cfg = config_from_env(
        leaf(method), dict(LONGTAIL_CLS_DATA_ROOT=data_root, LONGTAIL_CLS_EPOCHS=str(epochs)))
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return text.replace(osp.dirname(data_root.rstrip('/')) + '/', '')  # no machine path


def run_one(method, seed, imbalance, args, data_root, threads):
    wd = osp.join(args.work_dir, f'ir{imbalance:g}', f'{method}_seed{seed}')
    definition = dict(
        method=method,
        seed=seed,
        imbalance=imbalance,
        epochs=args.epochs,
        config=resolved_config(method, data_root, args.epochs))
    record = osp.join(wd, 'result.json')
    if osp.isfile(record):
        old = json.load(open(record))
        if old['definition'] == definition:
            print(f'[cls] ir{imbalance:g} {method} seed {seed}: done earlier ({wd})', flush=True)
            return old['metrics']
        if not args.retrain:
            raise SystemExit(f'error: {wd} holds a run of another definition; pass --retrain or '
                             'another --work-dir')
    os.makedirs(wd, exist_ok=True)
    env = dict(
        os.environ,
        LONGTAIL_CLS_DATA_ROOT=data_root,
        LONGTAIL_CLS_EPOCHS=str(args.epochs),
        CUDA_VISIBLE_DEVICES=os.environ.get('CUDA_VISIBLE_DEVICES', ''))
    if threads:
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(threads)
    print(f'[cls] training ir{imbalance:g} {method} seed {seed} -> {wd}', flush=True)
    t0 = time.perf_counter()
    with open(osp.join(wd, 'run.log'), 'w') as log:
        res = subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'),
            leaf(method), '--work-dir', wd, '--cfg-options', f'randomness.seed={seed}'
        ],
                             cwd=ROOT,
                             env=env,
                             stdout=log,
                             stderr=subprocess.STDOUT)
    if res.returncode:
        raise RuntimeError(f'training {method} seed {seed} failed; see {wd}/run.log')
    rows = [
        json.loads(line) for p in glob.glob(osp.join(wd, '*', 'vis_data', 'scalars.json'))
        for line in open(p)
    ]
    final = [r for r in rows if 'cls/top1' in r]
    if not final:
        raise RuntimeError(f'{wd}: no validation metrics logged')
    metrics = {k: final[-1][f'cls/{k}'] for k in KEYS}
    with open(record, 'w') as f:
        json.dump(dict(definition=definition, metrics=metrics), f, indent=1)
    print(
        f'[cls] ir{imbalance:g} {method} seed {seed}: top-1 {metrics["top1"]:.2f}, few-shot '
        f'{metrics["few_shot"]:.2f} ({time.perf_counter() - t0:.0f} s)',
        flush=True)
    return metrics


def table(results, args) -> str:
    lines = []
    for imb in args.imbalance:
        lines += [
            '', f'Imbalance {imb:g} (top-1 %, mean ± sample std over seeds '
            f'{",".join(map(str, args.seeds))}; balanced val):', '',
            '| method | top-1 | many-shot | medium-shot | few-shot |',
            '| --- | --- | --- | --- | --- |'
        ]
        for m in args.methods:
            runs = [results[imb][m][s] for s in args.seeds]
            cells = []
            for k in KEYS:
                v = np.array([r[k] for r in runs], float)
                if (v < 0).all():  # no class of the group in this set
                    cells.append('-')
                    continue
                cells.append(f'{v.mean():.1f} ± {v.std(ddof=1):.1f}' if len(v) >
                             1 else f'{v[0]:.1f}')
            lines.append(f'| {LABELS.get(m, m)} | ' + ' | '.join(cells) + ' |')
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
            v = np.array([[results[imb][m][s][k] for k in KEYS] for s in args.seeds], float)
            ax.bar(
                x + i * width,
                v.mean(0),
                width,
                yerr=v.std(0, ddof=1) if len(v) > 1 else None,
                label=LABELS.get(m, m),
                capsize=2)
        ax.set_xticks(x + width * (len(args.methods) - 1) / 2, ['top-1', 'many', 'medium', 'few'])
        ax.set_ylabel('accuracy (%)')
        ax.set_title(f'imbalance {imb:g}', fontsize=10)
        ax.grid(axis='y', alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_file, dpi=130)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--imbalance', type=float, nargs='+', default=[100, 200])
    parser.add_argument('--methods', nargs='+', default=list(METHODS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--max-count', type=int, default=300, help='train images, largest class')
    parser.add_argument('--jobs', type=int, default=1, help='trainings at once (one thread each)')
    parser.add_argument('--data-dir', default='data', help='where the sets are made')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'longtail_cls'))
    parser.add_argument('--retrain', action='store_true')
    args = parser.parse_args(argv)
    for m in args.methods:
        if not osp.isfile(leaf(m)):
            raise SystemExit(f'error: --methods: no config {osp.relpath(leaf(m), ROOT)}')
    for value, flag in ((args.epochs, '--epochs'), (args.jobs, '--jobs'), (args.max_count,
                                                                           '--max-count')):
        if value < 1:
            raise SystemExit(f'error: {flag} must be at least 1, got {value}')
    from make_longtail_cls_dataset import make_set
    roots = {}
    for imb in args.imbalance:
        root = osp.join(args.data_dir, f'longtail_cls_ir{imb:g}')
        info_file = osp.join(root, 'info.json')
        if not osp.isfile(info_file):
            print(f'[cls] making the set {root}', flush=True)
            make_set(root, imb, args.max_count)
        info = json.load(open(info_file))
        if info['imbalance'] != imb or info['max_count'] != args.max_count:
            raise SystemExit(f'error: {root} holds another set ({info}); remove it or pass '
                             '--data-dir')
        roots[imb] = osp.abspath(root) + '/'
    jobs = [(m, s, imb) for imb in args.imbalance for m in args.methods for s in args.seeds]
    results = {imb: {m: {} for m in args.methods} for imb in args.imbalance}
    threads = 1 if args.jobs > 1 else None
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {job: pool.submit(run_one, *job, args, roots[job[2]], threads) for job in jobs}
        for (m, s, imb), fut in futures.items():
            results[imb][m][s] = fut.result()
    os.makedirs(args.work_dir, exist_ok=True)
    text = table(results, args)
    print(text)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump({f'{imb:g}': r for imb, r in results.items()}, f, indent=1)
    plot(results, args, osp.join(args.work_dir, 'results.png'))
    print(f'[cls] results: {args.work_dir}/results.md, results.json, results.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
