"""The embedded benchmark's leaves mean on every preset what their names say: EQL's lambda protects
exactly the groups it names, and RFS oversamples exactly the rare and common classes' images, by
mmdet's own ClassBalancedDataset with the threshold scaled to the dataset."""
import json
import math
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'benchmark')


def leaf(name: str) -> str:
    return osp.join(DEMO, f'mask-rcnn_r18-half_fpn_{name}_longtail.py')


def runner_env(data_root: str) -> dict:
    """The variables tools/benchmark/run.py gives the configs for this dataset."""
    from mmdet_eql.benchmark import detection
    with open(osp.join(data_root, 'annotations', 'train.json')) as f:
        info = json.load(f)['info']
    return detection.preset_env(data_root, info, None)


@pytest.mark.parametrize('name, groups', [('eql_random', 'rc'), ('eql-rare_random', 'r'),
                                          ('seql_random', 'rc'), ('eql_rfs', 'rc')])
def test_lambda_protects_the_groups_the_leaf_names(name, groups, tiny_data, monkeypatch):
    """On the tiny preset (120 images, 1 frequent class) and at steep's and small's denominators:
    f_j < lambda exactly for the classes of the named groups (LVIS's groups by image count)."""
    env = runner_env(tiny_data)
    with open(osp.join(tiny_data, 'annotations', 'class_freq.json')) as f:
        freq = json.load(f)
    assert int(env['LONGTAIL_FREQ_IMAGES']) == freq['num_images_with_annotations'] == 120
    for n in (freq['num_images_with_annotations'], 7155, 899):  # tiny, steep, small
        monkeypatch.setenv('LONGTAIL_FREQ_IMAGES', str(n))
        lam = Config.fromfile(leaf(name)).model.roi_head.bbox_head.loss_cls.lambda_
        for images in range(1, 400):
            group = 'r' if images <= 10 else 'c' if images <= 100 else 'f'
            assert (images / n < lam) == (group in groups), (n, images, lam)
    # and the loss built on the real file protects those classes
    from mmdet_eql.utils.class_frequency import ClassFrequency  # noqa: F401
    monkeypatch.setenv('LONGTAIL_FREQ_IMAGES', env['LONGTAIL_FREQ_IMAGES'])
    lam = Config.fromfile(leaf(name)).model.roi_head.bbox_head.loss_cls.lambda_
    protected = {c['frequency'] for c in freq['categories'] if c['freq'] < lam}
    unprotected = {c['frequency'] for c in freq['categories'] if c['freq'] >= lam}
    assert protected == set(groups) and not unprotected & set(groups)


@pytest.mark.parametrize('name', ['sigmoid_rfs', 'eql_rfs'])
def test_rfs_repeats_images_as_mmdet_defines_it(name, tiny_data, monkeypatch):
    """mmdet's ClassBalancedDataset from the leaf, on the tiny preset: each image appears
    ceil(max(1, max over its classes of sqrt(t / f_c))) times, t = 100 / (train images with
    annotations), f_c the share of those images that hold c (computed here from train.json)."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    for k, v in runner_env(tiny_data).items():
        monkeypatch.setenv(k, v)
    cfg = Config.fromfile(leaf(name))
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.type == 'ClassBalancedDataset'
    with open(osp.join(tiny_data, 'annotations', 'train.json')) as f:
        train = json.load(f)
    cats_of = {}
    for a in train['annotations']:
        cats_of.setdefault(a['image_id'], set()).add(a['category_id'])
    n = len(cats_of)
    assert ds_cfg.oversample_thr == pytest.approx(100 / n)
    images_with = {}
    for cats in cats_of.values():
        for c in cats:
            images_with[c] = images_with.get(c, 0) + 1
    t = 100 / n
    dataset = DATASETS.build(ds_cfg)
    inner = dataset.dataset
    counts = {}
    for i in dataset.repeat_indices:
        counts[i] = counts.get(i, 0) + 1
    assert len(counts) == len(inner) == n
    repeated = 0
    for i in range(len(inner)):
        img = inner.get_data_info(i)['img_id']
        r = max(max(1.0, math.sqrt(t / (images_with[c] / n))) for c in cats_of[img])
        assert counts[i] == math.ceil(r), (img, counts[i], r)
        repeated += counts[i] > 1
    # the images of the one frequent class alone are not repeated; rare classes' images are
    frequent = {c for c, k in images_with.items() if k > 100}
    assert frequent and repeated > 0
    assert all(counts[i] == 1 for i in range(len(inner))
               if cats_of[inner.get_data_info(i)['img_id']] <= frequent)


@pytest.mark.parametrize('tr', [3, 9, 18])
def test_tail_ratio_leaves_protect_the_largest_tail_within_the_ratio(tr, tiny_data, monkeypatch):
    """The Table 2 ablation leaves on the tiny preset's real file: the classes protected hold at
    most the leaf's tail ratio of the train instances, and protecting the next class (by f)
    would exceed it."""
    import numpy as np
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    for k, v in runner_env(tiny_data).items():
        monkeypatch.setenv(k, v)
    loss_cfg = Config.fromfile(leaf(f'eql-tr{tr}_random')).model.roi_head.bbox_head.loss_cls
    assert loss_cfg.lambda_ is None and loss_cfg.tail_ratio == {3: 0.031, 9: 0.091, 18: 0.182}[tr]
    loss = MODELS.build(
        dict(
            loss_cfg,
            num_classes=16,
            class_freq=osp.join(tiny_data, 'annotations', 'class_freq.json')))
    cf = loss.class_freq
    counts = np.asarray(cf.instance_counts, dtype=float)
    protected = loss.tail_mask.numpy()
    assert counts[protected].sum() / counts.sum() <= loss_cfg.tail_ratio
    nxt = np.argmin(np.where(protected, np.inf, cf.freq))  # the least frequent unprotected
    more = protected | (cf.freq <= cf.freq[nxt])
    assert counts[more].sum() / counts.sum() > loss_cfg.tail_ratio


def test_without_e_r_leaf_is_eql_with_background_protected(tiny_data, monkeypatch):
    for k, v in runner_env(tiny_data).items():
        monkeypatch.setenv(k, v)
    noer = Config.fromfile(leaf('eql-noer_random')).model.roi_head.bbox_head.loss_cls
    eql = Config.fromfile(leaf('eql_random')).model.roi_head.bbox_head.loss_cls
    assert noer.protect_background is True and 'protect_background' not in eql
    assert noer.lambda_ == eql.lambda_


def test_pretrained_regime_applied_to_every_two_stage_leaf(tiny_data):
    """The pre-trained regime (configs/benchmark/regimes/pretrained.py), applied at run time to
    every two-stage leaf of configs/benchmark/, keeps the leaf's method (its loss, data and
    schedule, except what the regime's dicts replace) and sets the regime's conditions, as
    docs/benchmark.md decided them: the checkpoint through init_cfg, stem and stage 1 frozen,
    BatchNorm fixed, 128 RoIs an image at 1:3, 256 RPN anchors, 1000 proposals, 300 detections an
    image at test, lr 0.01. A one-stage leaf is not in the regime."""
    from mmdet_eql.benchmark import methods
    env = dict(runner_env(tiny_data), LONGTAIL_PRETRAINED='/elsewhere/backbone.pth')
    leaves = methods.regime_methods('pretrained')
    assert len(leaves) >= 10 and 'efl' not in leaves and 'eql' in leaves
    for method, (path, _) in leaves.items():
        cfg = methods.load_config(path, 'pretrained', env)
        scratch = methods.load_config(path, 'scratch', env)
        assert cfg.model.roi_head.bbox_head.loss_cls == scratch.model.roi_head.bbox_head.loss_cls
        assert cfg.train_dataloader == scratch.train_dataloader, path
        assert cfg.benchmark == scratch.benchmark and cfg.benchmark.method == method
        m = cfg.model
        assert m.backbone.init_cfg == dict(
            type='Pretrained', checkpoint='/elsewhere/backbone.pth', prefix='backbone.'), path
        assert (m.backbone.frozen_stages, m.backbone.norm_eval) == (1, True), path
        assert m.train_cfg.rpn.sampler.num == 256
        assert m.train_cfg.rpn_proposal.max_per_img == 1000
        assert (m.train_cfg.rcnn.sampler.num, m.train_cfg.rcnn.sampler.pos_fraction) == (128, 0.25)
        assert (m.test_cfg.rpn.max_per_img, m.test_cfg.rcnn.max_per_img) == (1000, 300), path
        assert cfg.optim_wrapper.optimizer.lr == 0.01
