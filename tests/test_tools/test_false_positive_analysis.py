"""tools/analysis_tools/false_positive_analysis.py: every detection's kind (true positive,
duplicate, look-alike or background false positive) on a hand-made val, and the per-image budget
(--per-image), which keeps each image's highest-scoring detections before anything is counted."""
import json

from mmdet_eql.analysis import false_positives

TOOL = 'mmdet_eql.analysis.false_positives'

GT = dict(
    images=[dict(id=1, width=64, height=64),
            dict(id=2, width=64, height=64)],
    categories=[
        dict(id=1, name='r1', frequency='r'),
        dict(id=2, name='c1', frequency='c'),
        dict(id=3, name='f1', frequency='f')
    ],
    annotations=[
        dict(id=10, image_id=1, category_id=3, bbox=[0, 0, 10, 10], area=100),
        dict(id=11, image_id=1, category_id=1, bbox=[20, 20, 10, 10], area=100)
    ])
A, B = [0, 0, 10, 10], [20, 20, 10, 10]
DETS = [
    dict(image_id=1, category_id=1, bbox=B, score=0.1),  # the rare object, scored last
    dict(image_id=1, category_id=3, bbox=A, score=0.9),  # the frequent object
    dict(image_id=1, category_id=3, bbox=[0, 0, 10, 9], score=0.8),  # it again
    dict(image_id=1, category_id=2, bbox=A, score=0.7),  # a common class on it
    dict(image_id=1, category_id=1, bbox=[50, 50, 5, 5], score=0.6),  # nothing there
    dict(image_id=2, category_id=3, bbox=A, score=0.5),  # an image without objects
]


def counts(res, group):
    return {k: v for k, v in res[group].items() if v}


def test_kinds_and_the_per_image_budget():
    fpa = false_positives
    res = fpa.analyse(GT, DETS, score_thr=0.0)
    assert counts(res, 'f') == dict(dets=3, tp=1, duplicate=1, fp_background=1, gt=1)
    assert counts(res, 'c') == dict(dets=1, fp_lookalike=1)
    assert counts(res, 'r') == dict(dets=2, tp=1, fp_background=1, gt=1)
    # the score threshold drops the low ones
    assert counts(fpa.analyse(GT, DETS, score_thr=0.65), 'r') == dict(gt=1)
    # image 1 keeps its four best: the rare object loses its true positive to the budget, image
    # 2's one detection stays
    res = fpa.analyse(GT, DETS, score_thr=0.0, per_image=4)
    assert counts(res, 'r') == dict(dets=1, fp_background=1, gt=1)
    assert counts(res, 'f') == dict(dets=3, tp=1, duplicate=1, fp_background=1, gt=1)
    res = fpa.analyse(GT, DETS, score_thr=0.0, per_image=1)
    assert counts(res, 'f') == dict(dets=2, tp=1, fp_background=1, gt=1)
    assert counts(res, 'c') == {} and counts(res, 'r') == dict(gt=1)


def test_cli(tmp_path, run_tool):
    gt, dets = tmp_path / 'gt.json', tmp_path / 'dets.json'
    gt.write_text(json.dumps(GT))
    dets.write_text(json.dumps(DETS))
    res = run_tool(TOOL, str(gt), str(dets), '--score-thr', '0', '--per-image', '4')
    assert res.returncode == 0, res.stderr
    assert "each image's top 4, score >= 0.0" in res.stdout
    assert f'| {dets} | r | 1 | 0 | 0 | 0 | 1 | 1 |' in res.stdout
    res = run_tool(TOOL, str(gt), str(dets), '--per-image', '0')
    assert res.returncode == 2 and '--per-image must be at least 1, got 0' in res.stderr
