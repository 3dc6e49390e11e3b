"""The real LVIS leaves, run as a researcher's first ``tools/train.py`` / ``tools/test.py``:
one leaf per config family (EQL v1, EQL v0.5, EQLv2, ATSS + EFL, mmdet's losses), with its real
pipeline, sampler, weight initialisation from the ImageNet file and evaluator, for 2 iterations
on a tiny dataset in the exact LVIS format with the real category lists, then tested from the
checkpoint. Offline: the ImageNet file is a stand-in in torch's hub cache (lvis_fixture.py), and
no torchvision is installed, so a leaf that still says ``torchvision://`` fails here.

What a run changes in the leaf, by key and transform type (never by position): the data root,
the image scale (all but the EQL v1 leaf, which runs at LVIS's own scale), one epoch, no
dataloader workers, logging every iteration.
"""
import glob
import json
import math
import os
import os.path as osp
import pickle

import pytest
import torch
from e2e_utils import ROOT, run
from lvis_fixture import fake_imagenet_cache, make_lvis_fixture, stem_marker
from mmengine.config import Config

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


def _datasets(loader_cfg):
    ds = loader_cfg.dataset
    while 'dataset' in ds:  # ClassBalancedDataset wraps the LVIS dataset
        ds = ds.dataset
    return ds


def _shrink(pipeline, short):
    long = short * 5 // 3
    for t in pipeline:
        if 'scale' in t:
            t.scale = (long, short)
        if 'scales' in t:
            t.scales = [(long, short - 32 * i) for i in range(len(t.scales))]


def prepare(leaf, data_root, short_side, out_path):
    """The leaf with the run's changes, written to ``out_path`` (see the module docstring)."""
    cfg = Config.fromfile(osp.join(ROOT, leaf))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        ds = _datasets(cfg[loader])
        ds.data_root = data_root
        if short_side:
            _shrink(ds.pipeline, short_side)
    for ev in ('val_evaluator', 'test_evaluator'):
        cfg[ev].ann_file = osp.join(data_root, _datasets(cfg.val_dataloader).ann_file)
    cfg.train_cfg.max_epochs = 1  # 4 images, batch 2: 2 iterations
    cfg.default_hooks.logger.interval = 1
    cfg.dump(out_path)
    return cfg


def logged_losses(work_dir):
    rows = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        rows += [json.loads(line) for line in open(path)]
    return [r for r in rows if 'loss' in r]


@pytest.mark.slow
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_lvis_leaf_trains_and_tests(family, lvis_data, tmp_path):
    leaf, version, short_side = FAMILIES[family]
    cfg_path = str(tmp_path / osp.basename(leaf))
    cfg = prepare(leaf, lvis_data[version], short_side, cfg_path)
    env = dict(os.environ, TORCH_HOME=lvis_data['torch_home'], CUDA_VISIBLE_DEVICES='')
    wd = str(tmp_path / 'work')
    log = run(['tools/train.py', cfg_path, '--work-dir', wd], env=env)
    assert 'load model from: https://download.pytorch.org/models/resnet50-0676ba61.pth' in log
    losses = logged_losses(wd)
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
    if family == 'atss-efl':
        stats = ckpt['state_dict']['bbox_head.loss_cls.grad_stats.num_updates']
        assert int(stats) == 2  # one update per iteration, not one per FPN level (5)
