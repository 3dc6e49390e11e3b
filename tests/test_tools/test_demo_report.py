"""tools/benchmark/run.py's plots from results in hand (no training): the group plot's
error bars are the seeds' sample standard deviation, a method of one seed gets none, and the
rare-object figure is drawn from each method's first seed's detections."""
import json
import os.path as osp
import shlex
import subprocess
import types

import numpy as np
from conftest import ROOT

from mmdet_eql.benchmark import detection, evaluation, methods, report, runs


def _summary(ap, cats):
    return dict(AP=ap, APr=ap / 4, APc=ap / 2, APf=ap * 1.5, per_category={c: ap for c in cats})


def test_report_plots_error_bars_and_rare_figure(tiny_data, tmp_path):
    gt = json.load(open(osp.join(tiny_data, 'annotations', 'val_lvis.json')))
    cats = [c['id'] for c in gt['categories']]
    results = {
        'sigmoid': {
            s: {
                k: _summary(ap, cats)
                for k in ('bbox/lvis', 'bbox/strict')
            }
            for s, ap in ((0, 0.30), (1, 0.34), (2, 0.41))
        },
        'eql': {
            0: {
                k: _summary(0.35, cats)
                for k in ('bbox/lvis', 'bbox/strict')
            }
        },
    }
    seeds_of = {m: sorted(r) for m, r in results.items()}
    prefixes = {}
    for m, seeds in seeds_of.items():
        for s in seeds:  # one detection on every val object, of its own class
            prefixes[m, s] = str(tmp_path / f'{m}{s}')
            dets = [dict(a, score=0.5) for a in gt['annotations']]
            json.dump(dets, open(prefixes[m, s] + '.bbox.json', 'w'))
    args = types.SimpleNamespace(work_dir=str(tmp_path), preset='tiny')
    out = report.result_plots(results, seeds_of, args, tiny_data, prefixes)
    strict = json.load(open(osp.join(tiny_data, 'annotations', 'val_strict.json')))
    for (m, s), prefix in prefixes.items():
        results[m][s]['rare_detections'] = evaluation.rare_detections(
            json.load(open(prefix + '.bbox.json')), strict)
    text, numbers = report.rare_detection_table(results, seeds_of)
    # a run's evaluation read back from its eval.json is what evaluate returned (category ids as
    # ints, which the per-category plot looks up)
    back = evaluation._category_ids(json.loads(json.dumps(results['sigmoid'][0])))
    assert back == results['sigmoid'][0] and cats[0] in back['bbox/lvis']['per_category']
    assert all(r['objects_found'] == r['objects'] > 0 for runs in numbers.values() for r in runs)
    assert '| sigmoid BCE, lambda=0 | 0,1,2 |' in text
    drawn = out['group']['bbox, LVIS-like val']
    for key in ('AP', 'APr', 'APc', 'APf'):
        values = [results['sigmoid'][s]['bbox/lvis'][key] for s in (0, 1, 2)]
        height, err = drawn[methods.label('sigmoid')][key]
        assert abs(height - 100 * np.mean(values)) < 1e-9
        assert abs(err - 100 * np.std(values, ddof=1)) < 1e-9
        assert drawn[methods.label('eql')][key][1] is None
    # every rare object found by both methods (all scores equal: each is first of its class)
    assert out['rare'] and all(cell[0] == 0.5 and cell[1] == 1 for row in out['rare'].values()
                               for cell in row.values())
    for f in ('ap_by_group.png', 'per_category_ap.png', 'rare_objects.jpg'):
        assert (tmp_path / f).stat().st_size > 0


def test_rare_detections_counts_what_it_says(tiny_data):
    gt = json.load(open(osp.join(tiny_data, 'annotations', 'val_strict.json')))
    rare = {c['id'] for c in gt['categories'] if c['frequency'] == 'r'}
    objects = [a for a in gt['annotations'] if a['category_id'] in rare]
    assert len(objects) >= 2
    first, second = objects[0], objects[1]
    frequent = next(c['id'] for c in gt['categories'] if c['frequency'] == 'f')
    x, y, w, h = first['bbox']
    dets = [
        # the first rare object found twice (a duplicate counts once), at 0.2 and 0.4, each box
        # shifted by a tenth of its width (IoU 0.9 / 1.1 = 0.82: found, not only exact boxes)
        dict(
            image_id=first['image_id'],
            category_id=first['category_id'],
            bbox=[first['bbox'][0] + first['bbox'][2] / 10] + first['bbox'][1:],
            score=0.2),
        dict(
            image_id=first['image_id'],
            category_id=first['category_id'],
            bbox=[first['bbox'][0] - first['bbox'][2] / 10] + first['bbox'][1:],
            score=0.4),
        # the second: its class beside it (IoU 1/3 < 0.5), and a frequent class on it
        dict(
            image_id=second['image_id'],
            category_id=second['category_id'],
            bbox=[second['bbox'][0] + second['bbox'][2] / 2] + second['bbox'][1:],
            score=0.9),
        dict(image_id=second['image_id'], category_id=frequent, bbox=second['bbox'], score=0.8),
    ]
    got = evaluation.rare_detections(dets, gt)
    assert got == dict(
        detections=3, median_score=0.4, highest_score=0.9, objects=len(objects), objects_found=1)


def test_logged_iterations_reads_the_last_training_line_after_the_offset(tmp_path):
    """The parallel runs' progress bar reads each run's log: the last ``Iter(train) [n/N]`` after
    the lines of an earlier attempt (``offset``), 0 without one."""
    log = tmp_path / 'run.log'
    assert runs.logged_iterations(str(log)) == 0  # not there yet
    earlier = 'mmengine - INFO - Iter(train) [ 50/900]  lr: 1e-2\nIter(train) [100/900]  eta\n'
    log.write_text(earlier)
    assert runs.logged_iterations(str(log)) == 100
    offset = log.stat().st_size
    assert runs.logged_iterations(str(log), offset) == 0  # a new attempt, nothing logged yet
    log.write_text(earlier + 'Iter(val) [ 5/10]\nIter(train) [  50/900]\nIter(test) [9/9]\n')
    assert runs.logged_iterations(str(log), offset) == 50


def test_make_demo_runs_a_regime_the_runner_has_and_says_which():
    """The README's first command: `make demo`'s call of the runner parses (a preset and a regime
    that exist, the regime's leaves for its methods), and the line it prints first is valid shell
    that names the same regime."""
    lines = subprocess.run(['make', '-n', 'demo'],
                           cwd=ROOT,
                           capture_output=True,
                           text=True,
                           check=True).stdout.splitlines()
    call = next(line for line in lines if 'tools/benchmark/run.py' in line)
    args = detection.parse_args(shlex.split(call)[2:])
    from mmdet_eql.benchmark.synthetic import PRESETS
    assert args.preset in PRESETS and args.regime in methods.REGIMES
    # the baseline, EQL, and the positive control the first line names
    assert args.methods == ['sigmoid', 'eql', 'eql-rfs'] and args.seeds == [0] and args.jobs == 2
    echo = next(line for line in lines if line.startswith('echo '))
    said = subprocess.run(['bash', '-c', echo], capture_output=True, text=True, check=True).stdout
    words = {'scratch': 'from scratch', 'pretrained': 'pre-trained'}[args.regime]
    assert said.startswith(f'[demo] regime {args.preset} {words}:'), said
    assert 'eql-rfs as the positive control' in said
