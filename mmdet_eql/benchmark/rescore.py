"""Re-score finished benchmark runs on val files that differ only in how many verified-absent
categories (``neg_category_ids``) each image lists: how much of each method's AP and APr is
decided by the federated protocol's false positives.

    python tools/benchmark/rescore_negatives.py WORK_DIR --data-root DATA_ROOT
        [--methods sigmoid eql ...] [--seeds 0 1 2] [--levels 0 1 2 5 10 20 all] [--draws 5]

For each level k, each val image lists k of its absent categories, drawn at random (``--draws``
times, the same draws for every run) from the strict val file, which lists them all ('all':
the strict file itself). Only a listed category's detections on an image can be false positives
(LVIS's rule); with k = 0 only the images that contain a category count for it. Every run's
box detections (``{method}_seed{s}/dets.bbox.json``, as the benchmark runner leaves them) are
evaluated on every file. Writes ``negatives_sweep.json``, ``negatives_sweep.md`` and
``negatives_sweep.png`` (AP and APr against k, one line per method: mean over seeds and draws,
band: one standard deviation) in WORK_DIR.
"""
import argparse
import copy
import json
import os.path as osp
import sys

import numpy as np

from mmdet_eql.evaluation import lvis_eval
from mmdet_eql.utils import ToolError, load_json, tool_main


def val_with_negatives(strict: dict, k, rng: np.random.RandomState) -> dict:
    """The strict val with each image's negatives cut to ``k`` random ones ('all': unchanged)."""
    if k == 'all':
        return strict
    gt = copy.copy(strict)
    gt['images'] = []
    for im in strict['images']:
        neg = list(im.get('neg_category_ids', []))
        keep = sorted(int(c) for c in rng.choice(neg, min(k, len(neg)), replace=False)) \
            if neg and k > 0 else []
        gt['images'].append(dict(im, neg_category_ids=keep))
    return gt


def parse_levels(values):
    out = []
    for v in values:
        if v == 'all':
            out.append('all')
            continue
        try:
            k = int(v)
        except ValueError:
            raise ToolError(f'--levels: {v!r} is neither a number of negatives nor "all"')
        if k < 0:
            raise ToolError(f'--levels: {k} negatives per image; expected >= 0')
        out.append(k)
    return out


def sweep(strict: dict, runs: dict, levels, draws: int, seed: int = 0, progress: bool = True):
    """{method: {level: [summary per seed and draw]}} for runs {method: {seed: results}}."""
    rng = np.random.RandomState(seed)
    files = {
        str(k): [val_with_negatives(strict, k, rng) for _ in range(1 if k == 'all' else draws)]
        for k in levels
    }
    out = {m: {lv: [] for lv in files} for m in runs}
    total = sum(len(v) for v in files.values()) * sum(len(s) for s in runs.values())
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, desc='evaluations', unit='eval')
    for lv, gts in files.items():
        for gt in gts:
            for m, by_seed in runs.items():
                for results in by_seed.values():
                    out[m][lv].append(lvis_eval(gt, results, 'bbox'))  # reads only
                    if bar is not None:
                        bar.update()
    if bar is not None:
        bar.close()
    return out


def summarise(raw: dict) -> dict:
    return {
        m: {
            lv: {
                **{
                    k: float(np.mean([r[k] for r in rs]))
                    for k in ('AP', 'APr')
                },
                **{
                    f'{k}_std': float(np.std([r[k] for r in rs]))
                    for k in ('AP', 'APr')
                }, 'n': len(rs)
            }
            for lv, rs in by_level.items()
        }
        for m, by_level in raw.items()
    }


def table(summary: dict, labels: dict) -> str:
    levels = list(next(iter(summary.values())))
    lines = [
        '| method | ' + ' | '.join(f'AP / APr, {lv}' for lv in levels) + ' |',
        '|' + ' --- |' * (1 + len(levels))
    ]
    for m, by_level in summary.items():
        cells = [
            f"{100 * by_level[lv]['AP']:.1f} / {100 * by_level[lv]['APr']:.1f}" for lv in levels
        ]
        lines.append(f'| {labels.get(m, m)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


@tool_main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir', help="the benchmark runner's work dir")
    parser.add_argument('--data-root', required=True, help='the runs\' dataset (annotations/)')
    parser.add_argument('--methods', nargs='+', help='default: every method with a run')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--levels', nargs='+', default=['0', '1', '2', '5', '10', '20', 'all'])
    parser.add_argument('--draws', type=int, default=5, help='random draws per level')
    parser.add_argument('--seed', type=int, default=0, help='seed of the draws')
    args = parser.parse_args(argv)
    if args.draws < 1:
        raise ToolError(f'--draws must be at least 1, got {args.draws}')
    levels = parse_levels(args.levels)
    strict_path = osp.join(args.data_root, 'annotations', 'val_strict.json')
    if not osp.isfile(strict_path):
        raise ToolError(f'{strict_path} not found: --data-root must be a generated benchmark '
                        'dataset (tools/benchmark/make_dataset.py)')
    strict = load_json(strict_path, what='strict val file', progress=False)
    from mmdet_eql.benchmark.methods import discover_methods, label
    methods = args.methods or list(discover_methods())
    runs = {}
    for m in methods:
        for s in args.seeds:
            path = osp.join(args.work_dir, f'{m}_seed{s}', 'dets.bbox.json')
            if osp.isfile(path):
                runs.setdefault(m, {})[s] = load_json(path, what='detections', progress=False)
    if not runs:
        raise ToolError(f'no {{method}}_seed{{s}}/dets.bbox.json in {args.work_dir} for methods '
                        f'{methods} and seeds {args.seeds}')
    summary = summarise(sweep(strict, runs, levels, args.draws, args.seed))
    from mmdet_eql.visualization import plots
    labels = {m: label(m) for m in summary}
    seeds = {m: sorted(runs[m]) for m in runs}
    plots.plot_negatives_sweep({
        labels[m]: v
        for m, v in summary.items()
    }, [str(lv) for lv in levels],
                               osp.join(args.work_dir, 'negatives_sweep.png'),
                               title='Box AP and APr (%) against the verified negatives listed '
                               'per val image; mean over seeds and draws')
    text = ('Box AP / APr (%) against verified-absent categories listed per val image '
            f'({args.draws} draws a level; seeds {seeds}):\n\n' + table(summary, labels))
    with open(osp.join(args.work_dir, 'negatives_sweep.json'), 'w') as f:
        json.dump(
            dict(levels=[str(lv) for lv in levels], draws=args.draws, seeds=seeds, summary=summary),
            f,
            indent=1)
    with open(osp.join(args.work_dir, 'negatives_sweep.md'), 'w') as f:
        f.write(text + '\n')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
