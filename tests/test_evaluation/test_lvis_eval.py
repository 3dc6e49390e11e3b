import copy
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_eql.evaluation import lvis_eval, lvis_eval_lvisapi
from mmdet_eql.evaluation.lvis_eval import SUMMARY_KEYS
from mmdet_eql.utils import ToolError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LVIS_SAMPLE = osp.join(ROOT, 'tests', 'data', 'lvis_v0.5_val_100.json')


def box_to_rle(bb, h, w):
    x, y, bw, bh = bb
    rle = mask_utils.frPyObjects([[x, y, x + bw, y, x + bw, y + bh, x, y + bh]], h, w)[0]
    rle['counts'] = rle['counts'].decode()
    return rle


def poly_to_rle(seg, h, w):
    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    rle['counts'] = rle['counts'].decode()
    return rle


def make_detections(gt, seed=0, crowded_image=True):
    """Jittered ground truth, wrong classes, false positives, images left without detections,
    and one image with more than 300 detections."""
    rng = np.random.RandomState(seed)
    imgs = {im['id']: im for im in gt['images']}
    cats = [c['id'] for c in gt['categories']]
    skip = {im['id'] for im in gt['images'][::9]}  # images without detections
    dets = []
    for a in gt['annotations']:
        im = imgs[a['image_id']]
        if im['id'] in skip:
            continue
        h, w = im['height'], im['width']
        for _ in range(rng.randint(1, 4)):
            x, y, bw, bh = a['bbox']
            j = rng.normal(0, 0.08, 4) * [bw, bh, bw, bh]
            bb = [x + j[0], y + j[1], max(1.0, bw + j[2]), max(1.0, bh + j[3])]
            cat = a['category_id'] if rng.rand() < 0.75 else int(rng.choice(cats))
            seg = poly_to_rle(a['segmentation'], h, w) if rng.rand() < 0.5 else box_to_rle(bb, h, w)
            dets.append(
                dict(
                    image_id=im['id'],
                    category_id=cat,
                    bbox=[float(v) for v in bb],
                    score=float(rng.rand()),
                    segmentation=seg))
    for im in gt['images'][1::7]:  # pure false positives, including on verified-absent classes
        if im['id'] in skip:
            continue
        h, w = im['height'], im['width']
        for k in range(5):
            bb = [
                float(rng.uniform(0, w / 2)),
                float(rng.uniform(0, h / 2)),
                float(rng.uniform(5, w / 2)),
                float(rng.uniform(5, h / 2))
            ]
            pool = im['neg_category_ids'] or cats
            dets.append(
                dict(
                    image_id=im['id'],
                    category_id=int(rng.choice(pool)),
                    bbox=bb,
                    score=float(rng.rand()),
                    segmentation=box_to_rle(bb, h, w)))
    if crowded_image:  # > 300 detections on one image: the cap keeps the 300 best
        a = gt['annotations'][0]
        im = imgs[a['image_id']]
        for k in range(340):
            x, y, bw, bh = a['bbox']
            bb = [x + rng.normal(0, 3), y + rng.normal(0, 3), bw, bh]
            dets.append(
                dict(
                    image_id=im['id'],
                    category_id=a['category_id'],
                    bbox=bb,
                    score=float(rng.rand()),
                    segmentation=box_to_rle(bb, im['height'], im['width'])))
    return dets


@pytest.fixture(scope='module')
def lvis_sample():
    with open(LVIS_SAMPLE) as f:
        return json.load(f)


def assert_equal_summaries(ours, ref):
    for k in SUMMARY_KEYS:
        assert ours[k] == pytest.approx(ref[k], abs=1e-9), k


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_equals_lvis_api_on_real_lvis_sample(lvis_sample, iou_type):
    dets = make_detections(lvis_sample)
    per_img = {}
    for d in dets:
        per_img[d['image_id']] = per_img.get(d['image_id'], 0) + 1
    assert max(per_img.values()) > 300
    assert len(per_img) < len(lvis_sample['images'])
    ours = lvis_eval(lvis_sample, copy.deepcopy(dets), iou_type, per_category=True)
    ref = lvis_eval_lvisapi(lvis_sample, copy.deepcopy(dets), iou_type)
    assert_equal_summaries(ours, ref)
    assert 0 < ours['AP'] < 1 and ours['APr'] >= 0
    cats_with_gt = {a['category_id'] for a in lvis_sample['annotations']}
    assert {c for c, ap in ours['per_category'].items() if ap >= 0} == cats_with_gt


def test_equals_lvis_api_from_files(lvis_sample, tmp_path):
    dets = make_detections(lvis_sample, seed=1, crowded_image=False)
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    assert_equal_summaries(
        lvis_eval(LVIS_SAMPLE, str(path), 'bbox'), lvis_eval_lvisapi(LVIS_SAMPLE, str(path),
                                                                     'bbox'))


def test_empty_result_list(lvis_sample):
    out = lvis_eval(lvis_sample, [], 'segm')
    for k in SUMMARY_KEYS:
        assert out[k] == 0.0, k


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_equals_lvis_api_on_generated_demo_dataset(tmp_path, iou_type):
    from mmdet_eql.benchmark.synthetic import generate
    generate(str(tmp_path), preset='tiny', seed=3, progress=False)
    for val in ('val_lvis', 'val_strict'):
        with open(tmp_path / 'annotations' / f'{val}.json') as f:
            gt = json.load(f)
        dets = make_detections(gt, seed=2, crowded_image=False)
        assert_equal_summaries(
            lvis_eval(gt, copy.deepcopy(dets), iou_type),
            lvis_eval_lvisapi(gt, copy.deepcopy(dets), iou_type))


def test_results_for_another_dataset_are_refused(lvis_sample):
    det = dict(image_id=-5, category_id=1, bbox=[0, 0, 5, 5], score=0.5)
    with pytest.raises(ToolError, match='image_id -5'):
        lvis_eval(lvis_sample, [det], 'bbox')
    det = dict(
        image_id=lvis_sample['images'][0]['id'], category_id=99999, bbox=[0, 0, 5, 5], score=0.5)
    with pytest.raises(ToolError, match='category_id 99999'):
        lvis_eval(lvis_sample, [det], 'bbox')
    with pytest.raises(ValueError, match='iou_type'):
        lvis_eval(lvis_sample, [], 'keypoints')


def _det(gt, **change):
    d = dict(
        image_id=gt['images'][0]['id'],
        category_id=gt['categories'][0]['id'],
        bbox=[1.0, 2.0, 5.0, 5.0],
        score=0.5)
    d.update(change)
    return d


@pytest.mark.parametrize('change,message', [
    (dict(bbox=[1.0, 2.0, 5.0]), r"results\[2\] has bbox \[1.0, 2.0, 5.0\]; expected 4 numbers"),
    (dict(bbox=[0, 0, 5, 5, 1]), r'results\[2\] has bbox \[0, 0, 5, 5, 1\]; expected 4 numbers'),
    (dict(bbox=[0, float('nan'), 5, 5]), r'results\[2\] has bbox .*expected 4 finite numbers'),
    (dict(bbox=[0, 0, -5, 5]), r'results\[2\] has bbox .* with a negative width or height'),
    (dict(bbox='0 0 5 5'), r"results\[2\] has bbox '0 0 5 5'; expected 4 numbers"),
    (dict(score=float('inf')), r'results\[2\] has score inf; expected a finite number'),
    (dict(score=float('nan')), r'results\[2\] has score nan; expected a finite number'),
    (dict(score='high'), r"results\[2\] has score 'high'; expected a number"),
    (dict(score=None), r'results\[2\] has score None; expected a number'),
    (dict(category_id='1'), r"results\[2\] has category_id '1' of type str; expected an "
     'integer id'),
    (dict(category_id=1.0), r'results\[2\] has category_id 1.0 of type float'),
    (dict(image_id=None), r'results\[2\] has image_id None of type NoneType'),
    (dict(category_id=99999), r'results\[2\] has category_id 99999, which the ground truth'),
])
def test_malformed_detections_are_refused_by_index_and_field(lvis_sample, change, message):
    dets = [_det(lvis_sample), _det(lvis_sample, score=0.7), _det(lvis_sample, **change)]
    with pytest.raises(ToolError, match=message):
        lvis_eval(lvis_sample, dets, 'bbox')


def test_malformed_columns_and_options_are_refused(lvis_sample):
    n = 3
    cols = dict(
        image_id=np.full(n, lvis_sample['images'][0]['id']),
        category_id=np.full(n, lvis_sample['categories'][0]['id']),
        score=np.array([0.1, 0.2, 0.3]),
        bbox=np.ones((n, 4)))
    lvis_eval(lvis_sample, cols, 'bbox')  # well-formed
    bad = dict(cols, category_id=cols['category_id'].astype(float))
    with pytest.raises(ToolError, match=r'results\[0\] has category_id .* of type float'):
        lvis_eval(lvis_sample, bad, 'bbox')
    bad = dict(cols, bbox=np.ones((n, 3)))
    with pytest.raises(ToolError, match=r'results\[0\] has bbox .*expected 4 numbers'):
        lvis_eval(lvis_sample, bad, 'bbox')
    bbox = cols['bbox'].copy()
    bbox[1, 3] = -1
    with pytest.raises(ToolError, match=r'results\[1\] has bbox .* negative width or height'):
        lvis_eval(lvis_sample, dict(cols, bbox=bbox), 'bbox')
    score = cols['score'].copy()
    score[2] = np.nan
    with pytest.raises(ToolError, match=r'results\[2\] has score nan'):
        lvis_eval(lvis_sample, dict(cols, score=score), 'bbox')
    with pytest.raises(ToolError, match='column .image_id. has 2 rows, "score" has 3'):
        lvis_eval(lvis_sample, dict(cols, image_id=cols['image_id'][:2]), 'bbox')
    with pytest.raises(ToolError, match=r'results\[1\] has segmentation .*expected an RLE dict'):
        lvis_eval(lvis_sample, dict(cols, segmentation=[{
            'size': [1, 1],
            'counts': ''
        }, 'x', None]), 'segm')
    for pooled in ('yes', 1, None):
        with pytest.raises(ValueError, match=f'pooled must be True or False, got {pooled!r}'):
            lvis_eval(lvis_sample, cols, 'bbox', pooled=pooled)


def test_images_without_annotations_or_negative_list(lvis_sample):
    """faster-coco-eval's segm path crashed on such images; lvis-api needs the key."""
    gt = copy.deepcopy(lvis_sample)
    with_ann = {a['image_id'] for a in gt['annotations']}
    bare = [im for im in gt['images'] if im['id'] not in with_ann]
    assert bare
    for im in bare:
        del im['neg_category_ids']
    dets = make_detections(lvis_sample, seed=4, crowded_image=False)
    for im in bare:  # detections on them are never evaluated (no verified label)
        dets.append(
            dict(
                image_id=im['id'],
                category_id=1,
                bbox=[1.0, 1.0, 20.0, 20.0],
                score=0.99,
                segmentation=box_to_rle([1, 1, 20, 20], im['height'], im['width'])))
    ours = lvis_eval(gt, copy.deepcopy(dets), 'segm')
    for im in bare:
        im['neg_category_ids'] = []
    assert_equal_summaries(ours, lvis_eval_lvisapi(gt, copy.deepcopy(dets), 'segm'))
