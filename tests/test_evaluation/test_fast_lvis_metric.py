import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmdet.evaluation import LVISMetric
from mmdet.registry import METRICS
from pycocotools import mask as mask_utils

sys.path.insert(
    0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools', 'misc'))
from longtail import generate  # noqa: E402  (the benchmark's generator)


def predictions_for(gt, seed=0):
    """mmdet-style (data_sample dicts) predictions: jittered ground truth plus noise."""
    rng = np.random.RandomState(seed)
    num = len(gt['categories'])
    cat_ids = sorted(c['id'] for c in gt['categories'])
    samples = []
    for im in gt['images']:
        anns = [a for a in gt['annotations'] if a['image_id'] == im['id']]
        boxes, labels, scores, masks = [], [], [], []
        for a in anns:
            for _ in range(2):
                x, y, w, h = a['bbox']
                j = rng.normal(0, 1.0, 4)
                boxes.append([x + j[0], y + j[1], x + w + j[2], y + h + j[3]])
                cat = a['category_id'] if rng.rand() < 0.8 else cat_ids[rng.randint(num)]
                labels.append(cat_ids.index(cat))
                scores.append(rng.rand())
                rle = mask_utils.merge(
                    mask_utils.frPyObjects(a['segmentation'], im['height'], im['width']))
                masks.append(mask_utils.decode(rle).astype(bool))
        samples.append(
            dict(
                img_id=im['id'],
                ori_shape=(im['height'], im['width']),
                pred_instances=dict(
                    bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                    labels=torch.tensor(labels, dtype=torch.long),
                    scores=torch.tensor(scores, dtype=torch.float32),
                    masks=torch.from_numpy(np.stack(masks)) if masks else torch.zeros(
                        0, im['height'], im['width'], dtype=torch.bool))))
    return samples


def run_metric(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def test_fast_metric_matches_mmdet_lvis_metric(tmp_path):
    generate(str(tmp_path), preset='tiny', seed=1, progress=False)
    ann = str(tmp_path / 'annotations' / 'val_lvis.json')
    with open(ann) as f:
        gt = json.load(f)
    classes = tuple(c['name'] for c in sorted(gt['categories'], key=lambda c: c['id']))
    samples = predictions_for(gt)
    fast = METRICS.build(
        dict(type='FastLVISMetric', ann_file=ann, metric=['bbox', 'segm'], classwise=True))
    fast.dataset_meta = dict(classes=classes)
    ref = LVISMetric(ann_file=ann, metric=['bbox', 'segm'])
    ref.dataset_meta = dict(classes=classes)
    ours = run_metric(fast, samples)
    theirs = run_metric(ref, samples)
    for k, v in theirs.items():
        assert k in ours
        assert ours[k] == pytest.approx(v, abs=5e-4 + 1e-9), k  # LVISMetric rounds to 3 places
    assert 'lvis/bbox_APr' in ours and 'lvis/segm_APf' in ours
    assert f'lvis/{classes[0]}_precision' in ours


def test_compact_dump_keeps_values_and_drops_the_storage_behind_views(tmp_path):
    import pickle

    import torch

    from mmdet_eql.evaluation.metrics import CompactDumpDetResults
    big = torch.rand(1000, 1203)
    scores = big.flatten()[:300]  # a view into 4.8 MB, as the kept detections are
    sample = dict(pred_instances=dict(scores=scores, labels=torch.arange(300)), img_id=1)
    metric = CompactDumpDetResults(out_file_path=str(tmp_path / 'p.pkl'))
    metric.process({}, [sample])
    kept = metric.results[0]['pred_instances']['scores']
    assert torch.equal(kept, scores)
    assert kept.untyped_storage().nbytes() == 300 * 4
    assert len(pickle.dumps(metric.results)) < 20_000  # the view alone pickles to 4.8 MB
    assert len(pickle.dumps([sample])) > 4_000_000
