"""Evaluate LVIS-format detections exactly as lvis-api does, fast; also AP-fixed and AP-pool.

    python tools/analysis_tools/eval_lvis.py GT RESULTS [--iou-type bbox segm] [--out-dir DIR]
        [--protocol standard fixed] [--pooled] [--dets-per-cat 10000] [--class-freq FREQ.json]
        [--allow-capped]

--protocol fixed is AP-fixed (Dave et al. 2021): no per-image limit, each category's
--dets-per-cat best detections over the dataset; --pooled adds AP-pool (one precision/recall
curve over all categories, and one per frequency group). Several protocols print side by side.
AP-fixed refuses detections that look capped per image (most images at exactly the same count
below the _ap-fixed leaves' cap, e.g. the standard 300), naming the fix; --allow-capped
evaluates them anyway.

RESULTS is a results JSON (a list of detections), the ``outfile_prefix`` of mmdet's LVIS metric
(PREFIX.bbox.json / PREFIX.segm.json), or the pickle ``tools/test.py CONFIG CKPT --out
preds.pkl`` writes (converted here: labels to GT's category ids in the file's order, as mmdet's
LVIS datasets number them; boxes to x, y, w, h). Prints the summary table; with --out-dir, writes
per_category_ap_{iou}[_fixed].json and a plot of per-category AP against training image count of
the same name (.png; the ``image_count`` of GT's categories, or --class-freq), coloured by
frequency group.
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Optional, Tuple

from mmdet_eql import evaluation
from mmdet_eql.utils import ToolError, load_json, tool_main, write_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('gt', help='LVIS-format ground-truth annotation file')
    parser.add_argument('results', help='results JSON, or an mmdet outfile prefix')
    parser.add_argument('--iou-type', nargs='+', default=['bbox'], choices=['bbox', 'segm'])
    parser.add_argument('--out-dir', help='write per-category AP (JSON) and plots here')
    parser.add_argument(
        '--class-freq',
        help='class-frequency JSON (tools/analysis_tools/class_frequency.py on the train file): '
        'the training image counts of the plot, and, for COCO-format ground truth without LVIS '
        'frequency groups, the groups of APr / APc / APf')
    parser.add_argument(
        '--protocol',
        nargs='+',
        default=['standard'],
        choices=evaluation.PROTOCOLS,
        help='standard: 300 detections per image (lvis-api); fixed: AP-fixed')
    parser.add_argument(
        '--dets-per-cat', type=int, default=10000, help="AP-fixed's detections per category")
    parser.add_argument('--pooled', action='store_true', help='also AP-pool')
    parser.add_argument(
        '--allow-capped',
        action='store_true',
        help='with --protocol fixed, evaluate detections that look capped per image (refused '
        'otherwise: AP-fixed has no per-image cap)')
    args = parser.parse_args(argv)
    if args.dets_per_cat < 1:
        parser.error(f'--dets-per-cat must be at least 1, got {args.dets_per_cat}')
    return args


def results_file(results: str, iou: str) -> str:
    if osp.isfile(results):
        return results
    candidate = f'{results}.{iou}.json'
    if osp.isfile(candidate):
        return candidate
    raise ToolError(f'results {results!r} is neither a file nor a prefix of {candidate!r}')


def is_pickle(path: str) -> bool:
    """Whether ``path`` starts as a pickle does (protocol 2 and later: byte 0x80)."""
    with open(path, 'rb') as f:
        return f.read(1) == b'\x80'


def load_results(path: str, gt: dict, iou: str, dumped: dict):
    """The detections of ``path`` for ``iou``: a results JSON as it is, or the predictions pickle
    of tools/test.py --out as columns (read once, kept in ``dumped``), its labels numbered as
    mmdet's LVIS datasets number them: the ground truth's categories in file order."""
    if not is_pickle(path):
        try:
            return load_json(path, what='results file')
        except ToolError as e:
            raise ToolError(f'{e}. RESULTS is a results JSON (tools/test.py CONFIG CHECKPOINT '
                            '--cfg-options test_evaluator.outfile_prefix=PREFIX writes '
                            'PREFIX.bbox.json), its PREFIX, or the pickle of tools/test.py '
                            '--out preds.pkl') from None
    from mmdet_eql.evaluation.metrics.compact_dump import load_dumped_predictions
    from mmdet_eql.evaluation.metrics.fast_lvis_metric import predictions_to_columns
    if path not in dumped:
        dumped[path] = load_dumped_predictions(path)
    preds = dumped[path]
    if iou == 'segm' and any('masks' not in p for p in preds):
        raise ToolError(f'{path}: segm evaluation needs masks in the predictions (a model with '
                        'a mask head)')
    ids = [c['id'] for c in gt['categories']]
    if ids != sorted(ids):
        raise ToolError(
            f'{path}: a predictions pickle numbers its labels in the order of the '
            'categories of the file the model was tested on, and this ground truth '
            'lists its categories out of id order; evaluate with the file the model was '
            'tested on (for tools/misc/own_data_leaf.py, its .by-id.json copy), or '
            'give a results JSON (test_evaluator.outfile_prefix), which names category '
            'ids')
    labels = [p['labels'] for p in preds]
    num_cats = len(gt['categories'])
    top = max((int(x.max()) for x in labels if len(x)), default=-1)
    if top >= num_cats:
        raise ToolError(f'{path}: predicted label {top} needs at least {top + 1} categories, the '
                        f'ground truth has {num_cats}: are the predictions for another dataset?')
    return predictions_to_columns(preds, [c['id'] for c in gt['categories']], iou)


def load_ground_truth(gt_path: str,
                      class_freq: Optional[str] = None) -> Tuple[dict, Optional[dict]]:
    """The ground truth, and with a class-frequency file its entries matched to the ground
    truth's categories by id and name ({id: entry}, before anything is evaluated); a ground truth
    without LVIS groups (COCO-format) gets the file's groups and its images' absent classes as
    verified negatives (evaluation.with_groups), said in one line."""
    gt = load_json(gt_path, what='ground-truth file')
    if not isinstance(gt, dict) or 'categories' not in gt:
        raise ToolError(f'{gt_path!r} is not an LVIS annotation file (no "categories")')
    if not class_freq:
        return gt, None
    freq = load_json(class_freq, what='class-frequency file')
    train = evaluation.match_class_freq(gt, freq, where=class_freq)
    if not all(c.get('frequency') for c in gt['categories']):
        gt = evaluation.with_groups(gt, freq, where=class_freq)
        print(f'{gt_path}: no LVIS frequency groups: the groups of {class_freq}, and every '
              'image taken as exhaustively labelled (COCO-format data)')
    return gt, train


def evaluate_iou(args, gt: dict, iou: str, dumped: dict, summaries: dict, stems: dict) -> None:
    """Evaluates the results for ``iou`` under each protocol into ``summaries`` (and the
    per-category JSON with --out-dir)."""
    path = results_file(args.results, iou)
    results = load_results(path, gt, iou, dumped)
    if len(results.get('image_id', ()) if isinstance(results, dict) else results) == 0:
        print(evaluation.empty_results_note(path))
    for protocol in args.protocol:
        t0 = time.perf_counter()
        res = evaluation.lvis_eval(
            gt,
            results,
            iou,
            per_category=True,
            gt_name=args.gt,
            results_name=path,
            protocol=protocol,
            dets_per_cat=args.dets_per_cat,
            pooled=args.pooled,
            allow_capped=args.allow_capped)
        name = iou if len(args.protocol) == 1 else f'{iou} {protocol}'
        print(f'{name}: evaluated {path} in {time.perf_counter() - t0:.1f} s; '
              f'{evaluation.group_coverage(gt, res["per_category"])}')
        summaries[name] = res
        # one name for the JSON and the plot of a summary: per_category_ap_bbox[_fixed]
        stems[name] = f'per_category_ap_{iou}' + ('' if protocol == 'standard' else f'_{protocol}')
        if args.out_dir:
            names = {c['id']: c['name'] for c in gt['categories']}
            write_json({
                str(c): dict(name=names[c], AP=ap)
                for c, ap in res['per_category'].items()
            }, osp.join(args.out_dir, stems[name] + '.json'))


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.out_dir:
        try:
            os.makedirs(args.out_dir, exist_ok=True)
        except OSError as e:
            raise ToolError(f'cannot create output directory {args.out_dir!r}: '
                            f'{e.strerror}') from None
        if not os.access(args.out_dir, os.W_OK):
            raise ToolError(f'output directory {args.out_dir!r} is not writable')
    gt, train = load_ground_truth(args.gt, args.class_freq)
    summaries, stems, dumped = {}, {}, {}
    not_evaluated = None
    for iou in args.iou_type:
        try:
            evaluate_iou(args, gt, iou, dumped, summaries, stems)
        except ToolError as e:
            if iou != 'segm' or not summaries:
                raise
            not_evaluated = str(e)  # box-only results: the bbox table is still printed
    keys = evaluation.summary_keys('standard', pooled=args.pooled)
    if args.protocol == ['fixed']:
        keys = evaluation.summary_keys('fixed', pooled=args.pooled)
    elif len(args.protocol) > 1:  # side by side: the AP columns, which both protocols have
        keys = keys[:9] + keys[13:]
    print(evaluation.summary_table(summaries, keys))
    if args.out_dir:
        from mmdet_eql.visualization.plots import category_stats, plot_per_category_ap
        cats = list(train.values()) if train is not None else gt['categories']
        counts, groups = category_stats(cats)
        if not any(counts.values()):
            print('note: no training image counts (give --class-freq); no plot written')
        else:
            for name, res in summaries.items():
                out = osp.join(args.out_dir, stems[name] + '.png')
                plot_per_category_ap({name: res['per_category']},
                                     counts,
                                     groups,
                                     out,
                                     title=f'Per-category {name} AP against training images')
                print(f'plot: {out}')
    if not_evaluated:
        raise ToolError(f'segm not evaluated: {not_evaluated}. The bbox numbers above are '
                        'complete; results of a model without a mask head are evaluated with '
                        '--iou-type bbox')
    return 0


if __name__ == '__main__':
    sys.exit(main())
