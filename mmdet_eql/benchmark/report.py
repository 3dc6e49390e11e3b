"""The benchmark's report from the runs' evaluations: the tables (AP per method on both val files,
the large-vocabulary protocols, the scaled per-image budget, where the rare detections go, the
gradient-ratio monitor's read-out), the plots, and results.json / results.md."""
import glob
import json
import os.path as osp
from typing import Optional, Tuple

import numpy as np

from mmdet_eql.benchmark.methods import label
from mmdet_eql.benchmark.runs import run_dir
from mmdet_eql.utils import load_json
from mmdet_eql.visualization import plots

KEYS = ('AP', 'APr', 'APc', 'APf')


def protocol_table(all_results: dict, seeds_of: dict) -> str:
    """Markdown: box AP (LVIS-like val) per method under the standard protocol, AP-fixed and
    AP-pool, as LVIS sets them and scaled to this val's size; mean over each method's seeds."""
    first = next(all_results[m][seeds[0]] for m, seeds in seeds_of.items())
    budgets = first['protocols']['budgets']
    columns = [('bbox/lvis', 'AP', 'AP'), ('bbox/lvis', 'APr', 'APr'), ('fixed', 'AP', 'AP-fixed'),
               ('fixed', 'APr', 'APr-fixed'), ('fixed', 'APpool', 'AP-pool'),
               ('fixed', 'APpool_r', 'AP-pool r'),
               ('standard_scaled', 'AP', f'AP, {budgets["per_image"]}/img'),
               ('standard_scaled', 'APr', f'APr, {budgets["per_image"]}/img'),
               ('fixed_scaled', 'AP', f'AP-fixed, {budgets["per_category"]}/cat'),
               ('fixed_scaled', 'APr', f'APr-fixed, {budgets["per_category"]}/cat'),
               ('fixed_scaled', 'APpool', f'AP-pool, {budgets["per_category"]}/cat')]
    lines = [
        '', 'Box AP (LVIS-like val) under the large-vocabulary protocols, mean over the seeds: '
        'the standard one (300 detections an image), AP-fixed (10,000 a category, no image '
        'limit) and AP-pool (one precision/recall curve over all classes, or the rare ones, on '
        'the AP-fixed detections); then the same budgets scaled to the size of this val in the '
        f'proportions of LVIS v1 val ({budgets["per_image"]} an image, '
        f'{budgets["per_category"]} a category):', '',
        '| method | seeds | ' + ' | '.join(c[2] for c in columns) + ' |',
        '|' + ' --- |' * (2 + len(columns))
    ]
    for m, seeds in seeds_of.items():
        cells = []
        for where, key, _ in columns:
            vals = [
                all_results[m][s][where][key]
                if where == 'bbox/lvis' else all_results[m][s]['protocols'][where][key]
                for s in seeds
            ]
            cells.append(f'{100 * np.mean(vals):.1f}')
        lines.append(f'| {label(m)} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def scaled_budget_table(all_results: dict, seeds_of: dict) -> str:
    """Markdown: box AP, APr, APc, APf (LVIS-like val) under the per-image budget scaled to LVIS
    v1 val's proportions, mean ± sample std over the seeds: the measure of the direction table
    (docs/benchmark.md), where a rare class's detection is kept only if it outscores most others,
    as under LVIS's 300 an image over 1203 classes."""
    first = next(all_results[m][seeds[0]] for m, seeds in seeds_of.items())
    per_image = first['protocols']['budgets']['per_image']
    lines = [
        '', f'Box AP (LVIS-like val) with {per_image} detections an image, LVIS v1 val\'s '
        '300 an image over 1203 classes scaled to this val\'s classes; mean ± sample std over '
        'the seeds:', '', '| method | seeds | ' + ' | '.join(KEYS) + ' |',
        '|' + ' --- |' * (2 + len(KEYS))
    ]
    for m, seeds in seeds_of.items():
        cells = []
        for k in KEYS:
            mu, sd = mean_spread(
                [all_results[m][s]['protocols']['standard_scaled'][k] for s in seeds])
            cells.append(f'{mu:.1f}' + (f' ± {sd:.1f}' if len(seeds) > 1 else ''))
        lines.append(f'| {label(m)} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def mean_spread(values):
    v = np.array(values, dtype=float) * 100
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else 0.0)


def result_tables(all_results: dict, seeds_of: dict, preset: str) -> str:
    """Markdown tables of AP, APr, APc, APf (box and mask) per method on both val files: mean and
    sample standard deviation over each method's seeds."""
    all_seeds = sorted({s for seeds in seeds_of.values() for s in seeds})
    lines = [
        f'Embedded long-tailed benchmark, preset {preset}, seeds {all_seeds}: AP in %, '
        'mean ± sample std over the seeds of each method (one seed: no spread)'
    ]
    header = '| method | seeds | ' + ' | '.join(f'{iou} {k}' for iou in ('box', 'mask')
                                                for k in KEYS) + ' |'
    for val, title in (('lvis', 'LVIS-like val (federated negatives)'),
                       ('strict', 'strict val (every absent class a negative)')):
        lines += ['', f'{title}:', '', header, '|' + ' --- |' * (2 + 2 * len(KEYS))]
        for m, seeds in seeds_of.items():
            cells = []
            for iou in ('bbox', 'segm'):
                for k in KEYS:
                    if f'{iou}/{val}' not in all_results[m][seeds[0]]:
                        cells.append('-')
                        continue
                    mu, sd = mean_spread([all_results[m][s][f'{iou}/{val}'][k] for s in seeds])
                    cells.append(f'{mu:.1f}' + (f' ± {sd:.1f}' if len(seeds) > 1 else ''))
            lines.append(f'| {label(m)} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) +
                         ' |')
    return '\n'.join(lines)


def result_plots(all_results: dict,
                 seeds_of: dict,
                 args,
                 data_root: str,
                 prefixes: Optional[dict] = None) -> dict:
    """ap_by_group.png (seed-averaged AP per frequency group, four panels, error bars of the
    seeds' standard deviation where a method has several), per_category_ap.png (seed-averaged
    bbox AP per category against training images) and, given the runs' detections
    (``prefixes``), rare_objects.jpg (rare-class val objects and each method's detections on
    them, first seed). Returns what the group plot drew and the rare figure's summary."""
    panels = [('bbox/lvis', 'bbox, LVIS-like val'), ('segm/lvis', 'segm, LVIS-like val'),
              ('bbox/strict', 'bbox, strict val'), ('segm/strict', 'segm, strict val')]
    group, spread = {}, {}
    for key, title in panels:
        group[title], spread[title] = {}, {}
        for m, seeds in seeds_of.items():
            if key not in all_results[m][seeds[0]]:
                continue
            values = {k: [all_results[m][s][key][k] for s in seeds] for k in KEYS}
            group[title][label(m)] = {k: float(np.mean(v)) for k, v in values.items()}
            if len(seeds) > 1:  # the sample standard deviation, as the tables' +-
                spread[title][label(m)] = {k: float(np.std(v, ddof=1)) for k, v in values.items()}
    seed_counts = sorted({len(s) for s in seeds_of.values()})
    bars = ('one seed each: no error bars' if seed_counts == [1] else
            f'{" or ".join(map(str, seed_counts))} seeds; error bars: +- the seeds\' standard '
            'deviation')
    out = dict(
        group=plots.plot_group_ap(
            group,
            osp.join(args.work_dir, 'ap_by_group.png'),
            title=f'Embedded long-tailed benchmark ({args.preset}), mean over the seeds of each '
            f'method ({bars})',
            spread=spread))
    with open(osp.join(data_root, 'annotations', 'train.json')) as f:
        counts, groups = plots.category_stats(json.load(f)['categories'])
    per_cat = {
        label(m): {
            c: float(np.mean([all_results[m][s]['bbox/lvis']['per_category'][c] for s in seeds]))
            for c in all_results[m][seeds[0]]['bbox/lvis']['per_category']
        }
        for m, seeds in seeds_of.items()
    }
    plots.plot_per_category_ap(
        per_cat,
        counts,
        groups,
        osp.join(args.work_dir, 'per_category_ap.png'),
        title='Per-category bbox AP (LVIS-like val) against training images')
    missing = [
        f'{m} seed {seeds[0]}' for m, seeds in seeds_of.items()
        if prefixes and not osp.isfile(f'{prefixes[m, seeds[0]]}.bbox.json')
    ]
    if missing:  # runs reported from their eval.json
        print('[demo] no rare_objects.jpg: the detections of ' + ', '.join(missing) +
              ' are not in the work dir (reported from eval.json)')
    elif prefixes:
        gt = load_json(osp.join(data_root, 'annotations', 'val_lvis.json'), progress=False)
        dets = {
            m: load_json(f'{prefixes[m, seeds[0]]}.bbox.json', progress=False)
            for m, seeds in seeds_of.items()
        }
        try:
            out['rare'] = plots.plot_rare_detections(
                gt,
                data_root,
                dets,
                osp.join(args.work_dir, 'rare_objects.jpg'),
                title=f'Rare-class val objects of {args.preset} and each method\'s detections '
                'on them (first seed)')
        except ValueError as e:  # a val set without rare objects
            print(f'[demo] no rare_objects.jpg: {e}')
    return out


def report(all_results: dict, args, data_root: str, prefixes: Optional[dict] = None) -> str:
    """The tables (returned), the plots and the gradient-ratio monitor's report."""
    methods = [m for m in args.methods if all_results.get(m)]
    seeds_of = {m: sorted(all_results[m]) for m in methods}
    text = result_tables(all_results, seeds_of, args.preset)
    result_plots(all_results, seeds_of, args, data_root, prefixes)
    rare = rare_detection_table(all_results, seeds_of)[0]
    return (text + protocol_table(all_results, seeds_of) +
            scaled_budget_table(all_results, seeds_of) + rare +
            grad_ratio_report(methods, seeds_of, args))


def rare_detection_table(all_results: dict, seeds_of: dict) -> Tuple[str, dict]:
    """Markdown (and the numbers, {method: [per seed]}): :func:`rare_detections` of each run on
    the strict val (evaluate's ``rare_detections``), mean over each method's seeds."""
    numbers = {
        m: [all_results[m][s]['rare_detections'] for s in seeds]
        for m, seeds in seeds_of.items()
    }
    n_objects = next(iter(numbers.values()))[0]['objects']
    lines = [
        '', 'Where the rare classes\' detections go (box, strict val, mean over the seeds; the '
        'detections the model keeps): rare-class detections, their median and highest score, and '
        f'how many of the {n_objects} rare val objects have a detection of their own class at '
        'IoU >= 0.5 anywhere in the list:', '',
        '| method | seeds | rare detections | median score | highest score | '
        'rare objects with a same-class detection |', '| --- | --- | --- | --- | --- | --- |'
    ]
    for m, runs in numbers.items():
        mean = {k: np.mean([r[k] for r in runs]) for k in runs[0]}
        seeds = ','.join(map(str, seeds_of[m]))
        lines.append(f'| {label(m)} | {seeds} | {mean["detections"]:.0f} | '
                     f'{mean["median_score"]:.2g} | {mean["highest_score"]:.2g} | '
                     f'{mean["objects_found"]:.1f} |')
    return '\n'.join(lines), numbers


def grad_ratio_report(methods, seeds_of, args) -> str:
    """The gradient-ratio monitor's reports (two-stage runs): a table of the mean ratio per
    frequency group, mean over seeds, and a plot of the first seed's per-class ratios."""
    found, seeds_with = {}, {}
    for m in methods:
        reps = []
        for s in seeds_of[m]:
            files = sorted(
                glob.glob(osp.join(run_dir(args.work_dir, m, s), '*', 'grad_ratio.json')))
            if files:
                reps.append(load_json(files[-1], progress=False))
                seeds_with.setdefault(m, []).append(s)
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
        lines.append(f'| {label(m)} | {",".join(map(str, seeds_with[m]))} | ' + ' | '.join(cells) +
                     ' |')
    # the negative gradient by source (reports written since the monitor splits it)
    split = {
        m: reps
        for m, reps in found.items() if all(r.get('mean_background_share_by_group') for r in reps)
    }
    if split:
        lines += [
            '', 'Share of the negative gradient that comes from background RoIs (the rest: '
            'foreground RoIs of other classes), mean over the classes of each group and the '
            'seeds:', '', '| method | seeds | rare | common | frequent |',
            '| --- | --- | --- | --- | --- |'
        ]
        for m, reps in split.items():
            cells = [
                f"{np.mean([r['mean_background_share_by_group'][g] for r in reps]):.3f}" if all(
                    g in r['mean_background_share_by_group'] for r in reps) else '-' for g in 'rcf'
            ]
            lines.append(f'| {label(m)} | {",".join(map(str, seeds_with[m]))} | ' +
                         ' | '.join(cells) + ' |')
    plots.plot_grad_ratio_compare({
        label(m): reps[0]
        for m, reps in found.items()
    }, osp.join(args.work_dir, 'grad_ratio.png'))
    if split:  # per class, first seed of each method
        plots.plot_grad_source_compare({
            label(m): reps[0]
            for m, reps in split.items()
        }, osp.join(args.work_dir, 'grad_sources.png'))
    return '\n' + '\n'.join(lines)


def write_results(all_results: dict, args, text: str) -> None:
    """results.json (every run's evaluation, by method and seed, with the preset and regime)
    and results.md (``text``, the tables) in the work dir."""
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(
                preset=args.preset,
                regime=args.regime,
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
