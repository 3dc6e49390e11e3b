"""The real LVIS leaves, run as a researcher's first ``tools/train.py`` / ``tools/test.py``:
one leaf per config family (EQL v1, EQL v0.5, EQLv2, ATSS + EFL, mmdet's losses), with its real
pipeline, sampler, weight initialisation from the ImageNet file and evaluator, for 2 iterations
on a tiny dataset in the exact LVIS format with the real category lists, then tested from the
checkpoint. Offline: the ImageNet file is a stand-in in torch's hub cache (lvis_fixture.py), and
no torchvision is installed, so a leaf that still says ``torchvision://`` fails here.

What a run changes in the leaf (``lvis_run_config`` of tools/analysis_tools/benchmark_lvis_train.py,
by key and transform type, never by position): the data root, the image scale (all but the EQL v1
leaf, which runs at LVIS's own scale), one epoch, no dataloader workers, logging every
iteration.
"""
import json
import math
import os
import os.path as osp
import pickle
import sys

import pytest
import torch
from e2e_utils import ROOT, run
from lvis_fixture import fake_imagenet_cache, make_lvis_fixture, stem_marker

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
from benchmark_lvis_train import lvis_run_config, train_log_rows  # noqa: E402

FAMILIES = {
    'eql-v1': ('configs/eql/mask-rcnn_r50_fpn_eql_sample1e-3-ms-1x_lvis-v1.py', 'v1', None),
    'eql-v0.5': ('configs/eql/mask-rcnn_r50_fpn_eql_random-ms-2x_lvis-v0.5.py', 'v0.5', 320),
    'eqlv2': ('configs/eqlv2/mask-rcnn_r50_fpn_eqlv2_random-ms-1x_lvis-v1.py', 'v1', 320),
    'atss-efl': ('configs/efl/atss_r50_fpn_efl_sample1e-3-ms-2x_lvis-v1.py', 'v1', 320),
    'mmdet-losses':
    ('configs/mmdet-losses/mask-rcnn_r50_fpn_seesaw-loss_random-ms-1x_lvis-v1.py', 'v1', 320),
}


@pytest.fixture(scope='module')
def lvis_data(tmp_path_factory):
    base = tmp_path_factory.mktemp('lvis')
    torch_home = str(base / 'torch_home')
    fake_imagenet_cache(torch_home)
    return dict(
        v1=make_lvis_fixture(str(base / 'lvis_v1'), 'v1'),
        **{'v0.5': make_lvis_fixture(str(base / 'lvis_v0.5'), 'v0.5')},
        torch_home=torch_home)


@pytest.mark.slow
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_lvis_leaf_trains_and_tests(family, lvis_data, tmp_path):
    leaf, version, short_side = FAMILIES[family]
    cfg_path = str(tmp_path / osp.basename(leaf))
    cfg = lvis_run_config(leaf, lvis_data[version], cfg_path, short_side)
    env = dict(os.environ, TORCH_HOME=lvis_data['torch_home'], CUDA_VISIBLE_DEVICES='')
    wd = str(tmp_path / 'work')
    log = run(['tools/train.py', cfg_path, '--work-dir', wd], env=env)
    assert 'load model from: https://download.pytorch.org/models/resnet50-0676ba61.pth' in log
    losses = train_log_rows(wd)
    assert [r['iter'] for r in losses] == [1, 2], losses
    for r in losses:
        for k, v in r.items():
            if k.startswith('loss'):
                assert math.isfinite(v), (k, v)
    ckpt_path = osp.join(wd, 'epoch_1.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    # the stem came from the ImageNet file (frozen, so still equal after training)
    assert torch.equal(ckpt['state_dict']['backbone.conv1.weight'], stem_marker())
    out = str(tmp_path / 'preds.pkl')
    log = run(['tools/test.py', cfg_path, ckpt_path, '--work-dir', wd, '--out', out], env=env)
    metrics = ['bbox'] + (['segm'] if 'mask' in cfg.model.type.lower() else [])
    for m in metrics:
        for key in ('AP', 'APr', 'APc', 'APf'):
            assert f'lvis/{m}_{key}:' in log, (m, key)
    # the dump holds the predictions only (views into the 1000 x 1203 score tensor would make
    # it about 37 MB an image)
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 2 and all(len(p['pred_instances']['scores']) > 0 for p in preds)
    assert osp.getsize(out) < 2 * 1_000_000, osp.getsize(out)  # under 1 MB an image
    fixed_leaf = leaf.replace('.py', '_ap-fixed.py')
    if osp.isfile(osp.join(ROOT, fixed_leaf)):  # the family's AP-fixed test settings
        fixed_cfg = str(tmp_path / osp.basename(fixed_leaf))
        lvis_run_config(fixed_leaf, lvis_data[version], fixed_cfg, short_side)
        out = str(tmp_path / 'preds_fixed.pkl')
        log = run(['tools/test.py', fixed_cfg, ckpt_path, '--work-dir', wd, '--out', out], env=env)
        for m in metrics:
            for key in ('AP', 'APr', 'APpool', 'APpool_r', 'APpool_f'):
                assert f'lvis/{m}_{key}:' in log, (m, key)
        with open(out, 'rb') as f:
            preds = pickle.load(f)
        # more than the standard protocol's 300 detections an image reach the metric
        assert max(len(p['pred_instances']['scores']) for p in preds) > 300
    elif version == 'v1':
        raise AssertionError(f'{family}: no AP-fixed leaf {fixed_leaf}')
    if family == 'atss-efl':
        stats = ckpt['state_dict']['bbox_head.loss_cls.grad_stats.num_updates']
        assert int(stats) == 2  # one update per iteration, not one per FPN level (5)


@pytest.mark.slow
def test_cost_script_runs_at_tiny_scale(lvis_data, tmp_path):
    """tools/analysis_tools/benchmark_lvis_train.py end to end on the CPU at a tiny scale (its
    numbers are for a GPU; here it must run and print its table)."""
    env = dict(os.environ, TORCH_HOME=lvis_data['torch_home'], CUDA_VISIBLE_DEVICES='')
    out = run([
        'tools/analysis_tools/benchmark_lvis_train.py', '--iters', '2', '--batch', '1',
        '--val-images', '1', '--objects', '3', '--short-side', '128', '--eval-images', '30',
        '--work-dir',
        str(tmp_path)
    ],
              env=env)
    rows = [line for line in out.splitlines() if line.startswith('| mask-rcnn_r50')]
    assert len(rows) == 2, out[-2000:]
    assert rows[0].split('|')[4].strip() == '1.000x'
    cost = json.load(open(tmp_path / 'cost.json'))
    assert [r['iters_logged'] for r in cost['leaves']] == [2, 2]
    assert all(r['s_per_iter'] > 0 and r['test_s_per_img'] > 0 for r in cost['leaves'])
    assert cost['evaluator']['detections'] == 30 * 300
