"""The per-class report (mmdet_eql/evaluation/per_class.py and its command line,
tools/analysis_tools/per_class_report.py): hand-checked rows, views and comparison on a small set;
its AP is lvis_eval's, class by class, on the real LVIS sample; its found-object count is the
definition's (lvis_definition.box_iou)."""
import copy
import json
import os.path as osp
import sys

import numpy as np
import pytest

from mmdet_eql.evaluation import lvis_eval
from mmdet_eql.evaluation.lvis_definition import box_iou
from mmdet_eql.evaluation.per_class import compare, objects_found, per_class_table, views

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from test_lvis_eval import LVIS_SAMPLE, make_detections  # noqa: E402

NAMES = {1: 'rivet', 2: 'nut', 3: 'bolt'}


def small_set():
    """3 images; 'rivet' (rare) 2 objects, 'nut' (common) 1, 'bolt' (frequent) 2. The model finds
    no rivet: one rivet detection lands on a bolt, one on the background; it finds the nut and
    one of the two bolts."""
    images = [
        dict(id=i, width=200, height=200, neg_category_ids=[], not_exhaustive_category_ids=[])
        for i in (1, 2, 3)
    ]
    anns = [
        dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 40, 40], area=1600),
        dict(id=2, image_id=2, category_id=1, bbox=[100, 100, 40, 40], area=1600),
        dict(id=3, image_id=1, category_id=2, bbox=[100, 10, 40, 40], area=1600),
        dict(id=4, image_id=3, category_id=3, bbox=[10, 10, 50, 50], area=2500),
        dict(id=5, image_id=3, category_id=3, bbox=[120, 120, 50, 50], area=2500),
    ]
    for im in images:  # every absent class verified absent (exhaustively labelled)
        im['neg_category_ids'] = sorted(
            set(NAMES) - {a['category_id']
                          for a in anns if a['image_id'] == im['id']})
    counts = {1: 3, 2: 40, 3: 500}
    gt = dict(
        images=images,
        annotations=anns,
        categories=[
            dict(id=i, name=n, frequency='rcf'[i - 1], image_count=counts[i])
            for i, n in NAMES.items()
        ])
    dets = [
        dict(image_id=3, category_id=1, bbox=[11, 11, 50, 50], score=0.3),  # rivet on a bolt
        dict(image_id=2, category_id=1, bbox=[0, 150, 20, 20], score=0.2),  # rivet on nothing
        dict(image_id=1, category_id=2, bbox=[101, 11, 40, 40], score=0.9),  # nut found
        dict(image_id=3, category_id=3, bbox=[10, 10, 50, 50], score=0.8),  # one bolt found
    ]
    return gt, dets


def table(gt, dets, **kw):
    res = lvis_eval(gt, copy.deepcopy(dets), 'bbox', per_category=True, return_arrays=True)
    return res, per_class_table(gt, res['arrays'], res['evaluated'], **kw)


def test_rows_and_views_on_a_hand_checked_set():
    gt, dets = small_set()
    train = {c['id']: dict(c, freq=c['image_count'] / 1000) for c in gt['categories']}
    res, rows = table(gt, dets, train=train, lambda_=0.05)
    by = {r['name']: r for r in rows}
    assert [(r['val_instances'], r['found'], r['detections'])
            for r in rows] == [(2, 0, 2), (1, 1, 1), (2, 1, 1)]
    # the nut's box overlaps at IoU 0.906: a match at 9 of the 10 thresholds
    assert by['rivet']['AP'] == 0 and by['nut']['AP'] == pytest.approx(0.9)
    assert by['bolt']['AP50'] == pytest.approx(0.5, abs=0.01) and by['bolt']['recall50'] == 0.5
    assert by['rivet']['false_positives'] == {3: 1, 'background': 1}
    assert [r['protected'] for r in rows] == [True, True, False]  # f = 0.003, 0.04 < 0.05
    assert [r['group'] for r in rows] == ['r', 'c', 'f']
    seen = views(rows, NAMES)
    assert seen['nothing'] == ['rivet']
    assert seen['rare_fp'] == {'rivet': {'bolt': 1, 'background': 1}}
    assert seen['below_trend'][0]['name'] in ('rivet', 'bolt')
    # the rows are lvis_eval's per-category AP
    assert {r['id']: r['AP'] for r in rows} == pytest.approx(res['per_category'])


def test_compare_gains_and_losses():
    gt, dets = small_set()
    _, method = table(gt, dets)
    _, base = table(gt, [d for d in dets if d['category_id'] != 2])  # the baseline misses the nut
    out = compare(method, base)
    assert out['gained'][0]['name'] == 'nut' and out['gained'][0]['delta'] == pytest.approx(0.9)
    assert out['groups']['c']['delta'] == pytest.approx(0.9) and out['groups']['r']['delta'] == 0
    assert out['groups']['all']['classes'] == 3


def test_per_class_ap_is_lvis_evals_on_the_real_sample():
    with open(LVIS_SAMPLE) as f:
        gt = json.load(f)
    dets = make_detections(gt)
    res, rows = table(gt, dets)
    assert {r['id']: r['AP'] for r in rows} == pytest.approx(res['per_category'], abs=1e-12)
    ap = [r['AP'] for r in rows if r['AP'] >= 0]
    assert float(np.mean(ap)) == pytest.approx(res['AP'], abs=1e-12)
    for g in 'rcf':
        sel = [r['AP'] for r in rows if r['group'] == g and r['AP'] >= 0]
        assert float(np.mean(sel)) == pytest.approx(res[f'AP{g}'], abs=1e-12)


def test_objects_found_is_the_definition():
    """Against a plain loop over lvis_definition.box_iou (the benchmark's former count)."""
    rng = np.random.default_rng(0)
    anns = [
        dict(
            image_id=int(rng.integers(3)),
            category_id=int(rng.integers(4)),
            bbox=(rng.random(4) * [80, 80, 40, 40] + [0, 0, 5, 5]).tolist()) for _ in range(60)
    ]
    dets = [
        dict(
            image_id=a['image_id'],
            category_id=a['category_id'],
            bbox=(np.asarray(a['bbox']) + rng.normal(0, 6, 4)).tolist()) for a in anns[::2]
    ] + [dict(image_id=0, category_id=1, bbox=[1, 1, 9, 9])]
    got = objects_found(anns, dets)
    for c in range(4):
        mine = [a for a in anns if a['category_id'] == c]
        found = sum(
            any(
                box_iou(d['bbox'], a['bbox']) >= 0.5 for d in dets
                if (d['image_id'], d['category_id']) == (a['image_id'], c)) for a in mine)
        assert got.get(c, [0, 0]) == [len(mine), found], c
    assert 0 < sum(f for _, f in got.values()) < len(anns)


def test_tool_writes_the_report_and_the_comparison(tmp_path, capsys):
    from mmdet_eql.analysis import per_class_report
    gt, dets = small_set()
    for c in gt['categories']:  # a user's COCO-format file: groups from the frequency file
        del c['frequency'], c['image_count']
    freq = dict(categories=[
        dict(id=i, name=n, image_count=k, instance_count=k, frequency=g, freq=k / 1000)
        for (i, n), k, g in zip(NAMES.items(), (3, 40, 500), 'rcf')
    ])
    paths = {}
    for name, obj in (('gt', gt), ('dets', dets), ('base', dets[2:]), ('freq', freq)):
        paths[name] = str(tmp_path / f'{name}.json')
        with open(paths[name], 'w') as f:
            json.dump(obj, f)
    assert per_class_report.main([paths['gt'], paths['dets']]) == 2
    assert '--class-freq' in capsys.readouterr().err
    out_dir = str(tmp_path / 'report')
    assert per_class_report.main([
        paths['gt'], paths['dets'], '--baseline', paths['base'], '--class-freq', paths['freq'],
        '--lambda', '0.05', '--out-dir', out_dir
    ]) == 0
    text = capsys.readouterr().out
    assert 'rare: 1 classes (1 with val objects), AP 0.0, objects found 0 of 2, 1 protected' in text
    assert "rare classes that get nothing (no val object found): 1: rivet" in text
    assert "rare 'rivet': its unmatched detections land on bolt (1), background (1)" in text
    assert 'against the baseline' in text
    lines = open(osp.join(out_dir, 'per_class_bbox.csv')).read().splitlines()
    assert lines[0].startswith('id,name,group,train_images,protected,AP') and len(lines) == 4
    assert lines[1].startswith('1,rivet,r,3,True,0.0000')
    report = json.load(open(osp.join(out_dir, 'per_class_bbox.json')))
    assert report['views']['nothing'] == ['rivet'] and 'compare' in report
    assert osp.isfile(osp.join(out_dir, 'per_class_bbox_compare.csv'))
    assert osp.isfile(osp.join(out_dir, 'per_class_bbox.png'))
