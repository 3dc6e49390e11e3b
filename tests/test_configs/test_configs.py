"""Every config loads (which also proves custom_imports), builds its model on the CPU, and is
named by the rule in configs/README.md."""
import copy
import functools
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALL_CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and osp.basename(osp.dirname(p)) != 'regimes')
#: classification configs (configs/classification/), named and checked by their own rule
CLS_CONFIGS = [
    p for p in ALL_CONFIGS if osp.basename(osp.dirname(p)) in ('classification', 'pretrain')
]
CONFIGS = [p for p in ALL_CONFIGS if p not in CLS_CONFIGS]
# {backbone}_{method}_{schedule}_{dataset}.py (configs/README.md)
CLS_NAME_RULE = re.compile(r'^(resnet8|resnet32)_(ce|seql-g[0-9.]+)_(\d+e)'
                           r'_(cifar100-lt-ir\d+|longtail-cls)\.py$')
# the benchmark's pre-training (configs/benchmark/pretrain/): {backbone}_{set}_pretrain.py
PRETRAIN_NAME_RULE = re.compile(r'^(resnet18-half)_(shapes64)_pretrain\.py$')

# {algorithm}_{backbone}_{neck}[_{method}]_{sampler-aug-schedule}_{dataset}[_{test protocol}].py
# (configs/README.md). The method field is any lower-case name (its loss, as the leaf's folder
# calls it): a new loss needs no edit here. The schedule: epochs (12e), mmdet's 1x / 2x, or
# thousands of iterations (90k, the EQL authors'); the benchmark's leaves (dataset `longtail`)
# take their schedule from the preset, so they name none.
NAME_RULE = re.compile(
    r'^(mask-rcnn|cascade-mask-rcnn|faster-rcnn|atss)'
    r'_(r50|r101|x101-32x4d|x101-64x4d|r18-half)(-caffe)?'
    r'_(fpn|c4)'
    r'(_[a-z][a-z0-9.-]*)?'
    r'_(random|sample[0-9]e-[0-9]|rfs)(-ms|-paper)?'
    r'(-(\d+x|\d+e|\d+k)_(lvis-v1|lvis-v0\.5|coco-format|openimages-challenge)(_ap-fixed)?'
    r'|_longtail)\.py$')


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Config:
    return Config.fromfile(path)


def load(path: str) -> Config:
    """The config of ``path``, read once per test session (resolving an ``mmdet::`` base reads
    mmdet's model-index files, about 0.4 s a base); each test gets its own copy."""
    return copy.deepcopy(_load(path))


def model_key(path: str) -> str:
    """The model a config builds, as text: configs that differ only in data, schedule or test
    settings outside the model (random and RFS leaves, 1x and 2x) build the same one."""
    return repr(_load(path).model.to_dict())


#: the detection configs ordered so that those building the same model are neighbours: the model
#: is built (and its ImageNet weights loaded) once for them, the checks run for every config
BY_MODEL = sorted(CONFIGS, key=lambda p: (model_key(p), p))
_LAST_BUILT = {}


def built_model(path: str, cfg, imagenet_cache, monkeypatch):
    """``cfg``'s model, built from mmdet's registry with its weights initialised (the ImageNet
    stand-in for the LVIS leaves); reused for the next config that builds the same model."""
    key = model_key(path)
    if key not in _LAST_BUILT:
        _LAST_BUILT.clear()  # one model at a time in memory
        register_all_modules(init_default_scope=True)
        model = MODELS.build(cfg.model)
        if 'lvis' in osp.basename(path):
            # the first step of every run: ImageNet weights, without torchvision and without a
            # download when the file is in torch's hub cache
            monkeypatch.setenv('TORCH_HOME', imagenet_cache)
            model.init_weights()
        _LAST_BUILT[key] = model
    return _LAST_BUILT[key]


def test_there_are_configs():
    assert len(CONFIGS) >= 12 and len(CLS_CONFIGS) >= 2


@pytest.mark.parametrize('path', CLS_CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_classification_config_is_named_loads_and_builds(path, tmp_path):
    pretraining = osp.basename(osp.dirname(path)) == 'pretrain'
    rule = PRETRAIN_NAME_RULE if pretraining else CLS_NAME_RULE
    assert rule.match(osp.basename(path)), osp.basename(path)
    cfg = load(path)
    assert cfg.custom_imports['imports'] == ['mmdet_eql'] and cfg.default_scope == 'mmdet'
    assert dict(type='RNGStateHook') in cfg.custom_hooks
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'LongTailAccuracy'
    loss = cfg.model.loss_cls
    if isinstance(loss.get('class_freq'), str):  # the embedded set's file, made with the set
        import json
        cats = [dict(id=i + 1, name=f'c{i}', freq=1 / 64) for i in range(64)]
        (tmp_path / 'freq.json').write_text(json.dumps(dict(categories=cats)))
        loss.class_freq = str(tmp_path / 'freq.json')
    register_all_modules(init_default_scope=True)
    model = MODELS.build(cfg.model)
    assert model.fc.out_features == cfg.model.num_classes
    if pretraining:  # the detector's backbone, exactly, and softmax CE
        assert cfg.model.backbone.type == 'ResNet' and cfg.model.backbone.base_channels == 32
        assert type(model.loss_cls).__name__ == 'CrossEntropyLoss'
        return
    method = osp.basename(path).split('_')[1]
    if method.startswith('seql'):
        assert type(model.loss_cls).__name__ == 'SoftmaxEQLLoss'
        assert model.loss_cls.gamma == float(method[len('seql-g'):])
        assert model.loss_cls.lambda_ == 3e-3  # the paper's CIFAR-100-LT value
    else:
        assert type(model.loss_cls).__name__ == 'CrossEntropyLoss'
    if 'cifar100' in path:  # ResNet-32, the paper's Table 7 profile: 9,502 train images
        assert len(model.backbone.blocks) == 15 and sum(cfg.train_counts) == 9502


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_name_follows_rule(path):
    assert NAME_RULE.match(osp.basename(path)), osp.basename(path)


@pytest.fixture(scope='module')
def freq_file(tmp_path_factory):
    """A class-frequency JSON of n classes (one per n, the same file for every config)."""
    import json
    base = tmp_path_factory.mktemp('freq')

    def make(n: int) -> str:
        path = base / f'freq{n}.json'
        if not path.exists():
            cats = [
                dict(id=i + 1, name=f'c{i}', freq=(i + 1) / n, instance_count=i + 1)
                for i in range(n)
            ]  # instance counts: the leaves that choose lambda by the tail ratio read them
            path.write_text(json.dumps(dict(categories=cats)))
        return str(path)

    return make


@pytest.fixture(scope='module')
def imagenet_cache(tmp_path_factory):
    """torch's hub cache with stand-ins of the ImageNet ResNet files the LVIS leaves name."""
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_e2e'))
    from lvis_fixture import fake_imagenet_cache
    home = str(tmp_path_factory.mktemp('torch_home'))
    fake_imagenet_cache(home)
    return home


def head_configs(cfg) -> list:
    """The box head config(s) a config declares: a cascade's ``stage_bbox_head`` (over its
    stages), else the RoI head's or the one-stage detector's bbox head."""
    if 'roi_head' not in cfg.model:
        return [cfg.model.bbox_head]
    roi = cfg.model.roi_head
    if isinstance(roi.bbox_head, list):
        return [roi.stage_bbox_head] if 'stage_bbox_head' in roi else list(roi.bbox_head)
    return [roi.bbox_head]


@pytest.mark.parametrize('path', BY_MODEL, ids=lambda p: osp.relpath(p, ROOT))
def test_config_loads_and_builds(path, freq_file, imagenet_cache, monkeypatch):
    cfg = load(path)
    for head_cfg in head_configs(cfg):
        for holder in (head_cfg, head_cfg.get('loss_cls', {})):  # the head, or a loss on mmdet's
            freq = holder.get('class_freq')
            if isinstance(freq, str) and freq.endswith('.json') and not osp.isfile(freq):
                # a frequency file made with the data (the benchmark's: make_dataset.py; Open
                # Images': class_frequency.py)
                holder.class_freq = freq_file(head_cfg.num_classes)
    for ev in (cfg.val_evaluator, cfg.test_evaluator):
        if isinstance(ev.get('class_freq'), str) and not osp.isfile(ev.class_freq):
            ev.class_freq = freq_file(head_configs(cfg)[0].num_classes)
    assert cfg.custom_imports['imports'] == ['mmdet_eql']
    assert 'work_dir' not in cfg
    # exact resume: torch's generator state goes into every checkpoint
    assert dict(type='RNGStateHook') in cfg.get('custom_hooks', [])
    model = built_model(path, cfg, imagenet_cache, monkeypatch)
    head = model.roi_head.bbox_head if hasattr(model, 'roi_head') else model.bbox_head
    if isinstance(head, torch.nn.ModuleList):  # a cascade: the same loss and head in every stage
        assert len(head) == cfg.model.roi_head.num_stages == 3
        assert len({(type(h).__name__, type(h.loss_cls).__name__) for h in head}) == 1
        assert [list(h.bbox_coder.stds) for h in head] == [[0.1, 0.1, 0.2, 0.2],
                                                           [0.05, 0.05, 0.1, 0.1],
                                                           [0.033, 0.033, 0.067, 0.067]]
        assert type(model.roi_head).__name__ == 'FreqAwareCascadeRoIHead'
        head = head[-1]
    if '_c4_' in osp.basename(path):  # res5 from the ImageNet file too (mmdet 3.3's C4 does not)
        from lvis_fixture import res5_marker
        assert torch.equal(model.roi_head.shared_head.layer4[0].conv1.weight.detach(),
                           res5_marker())
        assert type(head).__name__ == 'FreqAwareBBoxHead' and head.with_avg_pool
    if 'lvis' in osp.basename(path):
        from lvis_fixture import stem_marker
        assert torch.equal(model.backbone.conv1.weight.detach(), stem_marker())
        test_cfg = cfg.model.test_cfg.rcnn if 'roi_head' in cfg.model else cfg.model.test_cfg
        ap_fixed = path.endswith('_ap-fixed.py')
        from mmdet_eql.evaluation.lvis_eval import AP_FIXED_PER_IMAGE
        assert test_cfg.max_per_img == (AP_FIXED_PER_IMAGE if ap_fixed else 300)
        assert test_cfg.score_thr == 0.0001
        for ev in (cfg.val_evaluator, cfg.test_evaluator):
            assert ev.get('protocol', 'standard') == ('fixed' if ap_fixed else 'standard')
            if ap_fixed:
                assert ev.dets_per_cat == 10000 and ev.pooled
        assert head.num_classes == (1230 if 'v0.5' in osp.basename(path) else 1203)
    loss = getattr(head, 'loss_cls', None)
    if type(loss).__name__ == 'EQLLoss':
        assert loss.class_freq is not None and head.fc_cls.out_features == head.num_classes
        assert all('use_sigmoid' not in h.loss_cls for h in head_configs(cfg))
    if type(loss).__name__ == 'FederatedLoss':  # the authors' settings (configs/README.md)
        assert head.fc_cls.out_features == head.num_classes and loss.class_freq is not None
        if 'lvis' in osp.basename(path):
            assert (loss.num_sample_cats, loss.freq_weight_power, head.prior_prob) == (50, 0.5,
                                                                                       0.01)
    if 'openimages' in osp.basename(path):  # the EQL paper's Table 6: 500 classes, lambda 3e-4
        assert head.num_classes == 500 and type(loss).__name__ == 'EQLLoss'
        assert loss.lambda_ == (0.0003 if '_eql_' in osp.basename(path) else 0.0)
        assert cfg.train_dataloader.dataset.type == 'CheckedOpenImagesDataset'
        assert cfg.val_evaluator.type == 'OpenImagesGroupMetric' and cfg.val_evaluator.num_groups \
            == 5
    if type(loss).__name__ == 'SoftmaxEQLLoss':  # mmdet's softmax head, background last
        assert type(head).__name__ == 'Shared2FCBBoxHead'
        assert head.fc_cls.out_features == head.num_classes + 1 and loss.gamma == 0.9
        if 'lvis-v1' in osp.basename(path):
            assert loss.lambda_ == 0.0011 and loss.class_freq.source == 'lvis_v1'
    if type(loss).__name__ == 'EqualizationLossV2':
        assert head.fc_cls.out_features == head.num_classes + 1  # objectness column
    if type(loss).__name__ == 'EqualizedFocalLoss':
        assert head.cls_out_channels == head.num_classes  # sigmoid: no background channel
    mask_head = getattr(getattr(model, 'roi_head', None), 'mask_head', None)
    if isinstance(mask_head, torch.nn.ModuleList):  # a cascade's: the same in every stage
        mask_head = mask_head[-1]
    if type(loss).__name__ == 'EffectiveClassMarginLoss':  # the authors' r50_ecm_1x.py
        assert head.fc_cls.out_features == head.num_classes + 1 and head.prior_prob is None
        assert type(head.fc_cls).__name__ == 'NormedLinear' and head.fc_cls.tempearture == 20
        assert type(mask_head.conv_logits).__name__ == 'NormedConv2d'
        assert loss.fg_bg_ratio == 6.3313 and loss.class_freq is not None
        if 'lvis' in osp.basename(path):
            assert cfg.optim_wrapper.clip_grad == dict(max_norm=5, norm_type=2)
            warmup = cfg.param_scheduler[0]
            assert (warmup.start_factor, warmup.end) == (1e-4, 10000)
            assert cfg.train_dataloader.dataset.type == 'ClassBalancedDataset'
            assert cfg.train_dataloader.dataset.oversample_thr == 1e-3
    if type(loss).__name__ == 'GumbelOptimizedLoss' and '_gumbel_' in osp.basename(path):
        # the activation alone, like for like with the sigmoid leaf: its head and prior
        head.init_weights()
        assert head.prior_prob == 0.001 and loss.drop_lambda is None and loss.max_loss == 20
        assert torch.allclose(head.fc_cls.bias, torch.tensor(-math.log(-math.log(0.001))))
        assert type(mask_head.conv_logits).__name__ == 'Conv2d'
    elif type(loss).__name__ == 'GumbelOptimizedLoss':  # the authors' LVIS v1 DropLoss configs
        assert head.fc_cls.out_features == head.num_classes and head.prior_prob is None
        head.init_weights()  # the authors' start (the LVIS leaves' models are initialised above)
        assert (head.fc_cls.weight == 0.001).all() and (head.fc_cls.bias == -2).all()
        assert type(mask_head.conv_logits).__name__ == 'NormedConv2d'
        assert loss.clamp == (-4.0, 10.0) and loss.max_loss is None
        assert loss.drop_lambda is not None and loss.protected.any()
        if 'lvis' in osp.basename(path):
            assert loss.drop_lambda == 0.0011 and int(loss.protected.sum()) == 815
            assert cfg.train_dataloader.dataset.oversample_thr == 1e-3
            want = (24, [16, 22]) if '-2x_' in osp.basename(path) else (12, [8, 11])
            assert (cfg.train_cfg.max_epochs, cfg.param_scheduler[1].milestones) == want


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_uses_fast_lvis_metric(path):
    """LVIS-format leaves use the compiled LVIS metric; the COCO-format example uses mmdet's COCO
    metric on its own val file (its APr / APc / APf: eval_lvis.py --class-freq)."""
    cfg = load(path)
    want = 'CocoMetric' if 'coco-format' in osp.basename(path) else \
        'OpenImagesGroupMetric' if 'openimages' in osp.basename(path) else 'FastLVISMetric'
    assert cfg.val_evaluator['type'] == want
    assert cfg.test_evaluator['type'] == want
