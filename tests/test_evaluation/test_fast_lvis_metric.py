import json

import numpy as np
import pytest
import torch
from mmdet.evaluation import LVISMetric
from mmdet.registry import METRICS
from pycocotools import mask as mask_utils

from mmdet_eql.benchmark.synthetic import generate


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


@pytest.mark.parametrize('with_mask_scores', [False, True])
def test_fixed_protocol_cuts_memory_without_changing_numbers(tmp_path, with_mask_scores):
    """AP-fixed in the metric: predictions are cut to each category's best as they arrive (here
    to 1 per category, so that cuts happen on this small set), and the numbers equal those of
    the same metric that keeps every prediction until the end."""
    generate(str(tmp_path), preset='tiny', seed=1, progress=False)
    ann = str(tmp_path / 'annotations' / 'val_lvis.json')
    with open(ann) as f:
        gt = json.load(f)
    classes = tuple(c['name'] for c in sorted(gt['categories'], key=lambda c: c['id']))
    samples = predictions_for(gt, seed=3)
    if with_mask_scores:  # mask scores ranked differently from box scores
        for s in samples:
            s['pred_instances']['mask_scores'] = 1 - s['pred_instances']['scores']
    cfg = dict(
        type='FastLVISMetric',
        ann_file=ann,
        metric=['bbox', 'segm'],
        protocol='fixed',
        dets_per_cat=1,
        pooled=True)
    cut, whole = METRICS.build(cfg), METRICS.build(cfg)
    whole._cut_to_top_per_category = lambda: None
    held = []
    for m in (cut, whole):
        m.dataset_meta = dict(classes=classes)
    for s in samples:
        cut.process({}, [s])
        whole.process({}, [s])
        held.append(sum(len(r['labels']) for _, r in cut.results))
    total = sum(len(r['labels']) for _, r in whole.results)
    num_classes = len(classes)
    per_image = max(len(s['pred_instances']['labels']) for s in samples)
    # a cut keeps at most 1 per class and score kind; the next comes when the count doubles
    assert max(held) <= 2 * num_classes * (2 if with_mask_scores else 1) + per_image
    assert min(held[len(held) // 2:]) < total / 2 and cut._dets_after_cut > 0
    ours = cut.evaluate(size=len(samples))
    ref = whole.evaluate(size=len(samples))
    assert ours == ref
    assert {'lvis/bbox_APpool', 'lvis/segm_APpool_f', 'lvis/bbox_APr'} <= set(ours)
    assert 0 < ours['lvis/bbox_AP'] < 1


def test_bad_protocol_arguments():
    with pytest.raises(ValueError, match="protocol must be one of"):
        METRICS.build(dict(type='FastLVISMetric', protocol='pool'))
    with pytest.raises(ValueError, match='dets_per_cat must be a positive integer, got -1'):
        METRICS.build(dict(type='FastLVISMetric', protocol='fixed', dets_per_cat=-1))


def test_fixed_protocol_refuses_predictions_capped_per_image(tmp_path):
    """Every image at the same count (a test_cfg cap below what AP-fixed needs for this many
    classes): refused under 'fixed', on the counts before the running cut (dets_per_cat=1 cuts),
    unless allow_capped."""
    from mmdet_eql.evaluation.lvis_eval import ap_fixed_per_image
    from mmdet_eql.utils import ToolError
    generate(str(tmp_path), preset='tiny', seed=1, progress=False)
    ann = str(tmp_path / 'annotations' / 'val_lvis.json')
    with open(ann) as f:
        gt = json.load(f)
    classes = tuple(c['name'] for c in sorted(gt['categories'], key=lambda c: c['id']))
    cap = ap_fixed_per_image(len(classes)) - 1
    assert cap >= 2
    samples = []
    for s in predictions_for(gt, seed=3):
        p = s['pred_instances']
        n = len(p['labels'])
        if n == 0:
            continue
        idx = torch.arange(cap) % n  # cap an image, as max_per_img=cap leaves them
        samples.append(dict(s, pred_instances={k: v[idx] for k, v in p.items()}))
    cfg = dict(
        type='FastLVISMetric', ann_file=ann, metric=['bbox'], protocol='fixed', dets_per_cat=1)
    for allow in (False, True):
        metric = METRICS.build(dict(cfg, allow_capped=allow))
        metric.dataset_meta = dict(classes=classes)
        for s in samples:
            metric.process({}, [s])
        assert metric._dets_after_cut > 0  # cut as they came
        if allow:
            assert 'lvis/bbox_AP' in metric.evaluate(size=len(samples))
        else:
            with pytest.raises(ToolError, match=f'look capped at {cap} an image'):
                metric.evaluate(size=len(samples))
