"""Per-class report of a model's detections (LVIS, or your own data with its frequency file): the
classes, above all rare ones, it misses; and two models side by side.

    python tools/analysis_tools/per_class_report.py GT RESULTS [--baseline RESULTS_B]
        [--class-freq FREQ.json] [--lambda L | --leaf LEAF.py] [--iou-type bbox] [--out-dir DIR]

RESULTS as eval_lvis.py reads them (the pickle of ``tools/test.py --out``, a results JSON or its
prefix). One row a class (mmdet_eql/evaluation/per_class.py): group, training images, protected by
lambda (``--lambda``, or the ``lambda_`` of the leaf's EQL loss), AP and AP50 (the standard
protocol), recall, val instances and how many a detection of their own class found, detections,
and where its unmatched detections land. Written to DIR as ``per_class_{iou}.csv`` and ``.json``
(with the three views: rare classes that get nothing, classes furthest below what their frequency
predicts, rare classes' false positives) and ``per_class_{iou}.png`` (AP against training images
by group); one screen of it on the terminal. With ``--baseline``: the same for the baseline,
and ``per_class_{iou}_compare.csv`` / the summary of per-group differences and the classes that
gained and lost most.
"""
import argparse
import csv
import os
import os.path as osp
import sys

from mmdet_eql import evaluation
from mmdet_eql.analysis.eval_lvis import load_ground_truth, load_results, results_file
from mmdet_eql.evaluation.per_class import compare, per_class_table, views
from mmdet_eql.utils import ToolError, tool_main, write_json

COLUMNS = ('id', 'name', 'group', 'train_images', 'protected', 'AP', 'AP50', 'recall', 'recall50',
           'val_instances', 'found', 'detections', 'false_positives')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('gt', help='LVIS- or COCO-format ground-truth (val) annotation file')
    parser.add_argument('results', help='the results: tools/test.py --out pickle, JSON or prefix')
    parser.add_argument('--baseline', help='a second model\'s results, to compare against')
    parser.add_argument(
        '--class-freq',
        help='class-frequency JSON of the train split (groups, '
        'training counts; required for COCO-format ground truth)')
    lam = parser.add_mutually_exclusive_group()
    lam.add_argument('--lambda', dest='lambda_', type=float, help='mark classes with f < lambda')
    lam.add_argument('--leaf', help="a leaf config: its EQL loss's lambda_ marks the protected")
    parser.add_argument('--iou-type', default='bbox', choices=['bbox', 'segm'])
    parser.add_argument('--out-dir', help='write the CSV, JSON and plot here')
    return parser.parse_args(argv)


def leaf_lambda(path: str) -> float:
    """The ``lambda_`` of the leaf's classification loss (a number; a tail-ratio leaf resolves it
    from the frequencies at build time, which the tool does not do: give --lambda)."""
    from mmengine.config import Config
    if not osp.isfile(path):
        raise ToolError(f'--leaf {path!r}: no such config')
    cfg = Config.fromfile(path)
    head = cfg.model.get('roi_head', {}).get('bbox_head', {})
    head = head[-1] if isinstance(head, list) else head
    value = head.get('loss_cls', {}).get('lambda_')
    if not isinstance(value, (int, float)):
        raise ToolError(f'--leaf {path}: model.roi_head.bbox_head.loss_cls.lambda_ is {value!r}, '
                        'not a number (a tail-ratio leaf: its training log prints the lambda; '
                        'give it with --lambda)')
    return float(value)


def evaluate(args, gt: dict, results: str, dumped: dict, train, lambda_) -> list:
    path = results_file(results, args.iou_type)
    res = evaluation.lvis_eval(
        gt,
        load_results(path, gt, args.iou_type, dumped),
        args.iou_type,
        gt_name=args.gt,
        results_name=path,
        return_arrays=True)
    return per_class_table(gt, res['arrays'], res['evaluated'], train, lambda_)


def write_rows(rows, path: str) -> None:
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([
                '; '.join(f'{k}: {n}' for k, n in r[c].items()) if c == 'false_positives' else
                (f'{r[c]:.4f}' if isinstance(r[c], float) else r[c]) for c in COLUMNS
            ])


def summary(rows, seen: dict, names: dict) -> str:
    """One screen: each group's classes, found objects and AP; the three views, shortened."""
    lines = []
    for g, label in (('r', 'rare'), ('c', 'common'), ('f', 'frequent')):
        sel = [r for r in rows if r['group'] == g]
        if not sel:
            continue
        measured = [r['AP'] for r in sel if r['AP'] >= 0]
        objects = sum(r['val_instances'] for r in sel)
        lines.append(f'{label}: {len(sel)} classes ({len(measured)} with val objects), AP '
                     f'{100 * sum(measured) / max(len(measured), 1):.1f}, objects found '
                     f'{sum(r["found"] for r in sel)} of {objects}' +
                     (f', {sum(bool(r["protected"]) for r in sel)} protected by lambda' if any(
                         r['protected'] is not None for r in sel) else ''))
    nothing = seen['nothing']
    lines.append(f'rare classes that get nothing (no val object found): {len(nothing)}' +
                 (': ' + ', '.join(nothing[:12]) +
                  (', ...' if len(nothing) > 12 else '') if nothing else ''))
    if seen['below_trend']:
        lines.append('furthest below what their frequency predicts: ' + ', '.join(
            f'{b["name"]} (AP {100 * b["AP"]:.1f}, predicted {100 * b["predicted"]:.1f}, '
            f'{b["train_images"]} images)' for b in seen['below_trend'][:5]))
    for name, dest in list(seen['rare_fp'].items())[:5]:
        lines.append(f'rare {name!r}: its unmatched detections land on ' +
                     ', '.join(f'{k} ({n})' for k, n in dest.items()))
    return '\n'.join(lines)


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    # a ground truth without LVIS groups and no --class-freq: lvis_eval refuses it, naming the fix
    gt, train = load_ground_truth(args.gt, args.class_freq)
    lambda_ = leaf_lambda(args.leaf) if args.leaf else args.lambda_
    if lambda_ is not None and train is None:
        raise ToolError('--lambda / --leaf need --class-freq (the f of each class)')
    names = {c['id']: c['name'] for c in gt['categories']}
    dumped = {}
    rows = evaluate(args, gt, args.results, dumped, train, lambda_)
    seen = views(rows, names)
    print(summary(rows, seen, names))
    out = dict(rows=rows, views=seen)
    if args.baseline:
        base = evaluate(args, gt, args.baseline, dumped, train, lambda_)
        out['baseline'] = dict(rows=base, views=views(base, names))
        out['compare'] = compare(rows, base)
        print('against the baseline (mean AP over the classes with an AP in both):')
        for g, v in out['compare']['groups'].items():
            print(f'  {g}: {v["classes"]} classes, {100 * v["baseline_AP"]:.1f} -> '
                  f'{100 * v["AP"]:.1f} ({100 * v["delta"]:+.1f})')
        for key in ('gained', 'lost'):
            print(f'  {key} most: ' + ', '.join(f'{d["name"]} ({100 * d["delta"]:+.1f})'
                                                for d in out['compare'][key][:5]))
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        stem = osp.join(args.out_dir, f'per_class_{args.iou_type}')
        write_rows(rows, stem + '.csv')
        write_json(out, stem + '.json', what='per-class report')
        if args.baseline:
            with open(stem + '_compare.csv', 'w', newline='') as f:
                w = csv.writer(f)
                w.writerow(('id', 'name', 'group', 'baseline_AP', 'AP', 'delta'))
                for d in out['compare']['per_class']:
                    w.writerow((d['id'], d['name'], d['group'], f'{d["baseline_AP"]:.4f}',
                                f'{d["AP"]:.4f}', f'{d["delta"]:+.4f}'))
        from mmdet_eql.visualization.plots import plot_per_category_ap
        counts = {r['id']: r['train_images'] or 0 for r in rows}
        if any(counts.values()):
            per_cat = {'model': {r['id']: r['AP'] for r in rows}}
            if args.baseline:
                per_cat['baseline'] = {r['id']: r['AP'] for r in out['baseline']['rows']}
            plot_per_category_ap(
                per_cat,
                counts, {r['id']: r['group']
                         for r in rows},
                stem + '.png',
                title=f'Per-class {args.iou_type} AP against training images')
        print(f'per-class report -> {stem}.csv, .json' + (', .png' if any(counts.values()) else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
