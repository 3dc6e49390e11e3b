"""The benchmark's pre-trained start (tools/benchmark/pretrain_backbone.py): the checkpoint and
its record, its loading into the detector's backbone through the leaves' init_cfg, and the refusal
of a stale or mismatched checkpoint."""
import json
import os
import os.path as osp
import shutil

import pytest
import torch
from conftest import ROOT, TINY_PRETRAIN, run_tool_in_process

from mmdet_eql.benchmark import pretrain

LEAF = osp.join(ROOT, 'configs', 'benchmark', 'mask-rcnn_r18-half_fpn_sigmoid_rfs_longtail.py')
#: the detector's backbone (configs/benchmark/)
BACKBONE = dict(type='ResNet', depth=18, base_channels=32, num_stages=4, out_indices=(0, 1, 2, 3))


def tool():
    return pretrain


def backbone_state(**kw):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS.build(dict(BACKBONE, **kw)).state_dict()


def test_checkpoint_holds_the_detector_backbone_and_its_record(tiny_pretrained):
    ckpt = osp.join(tiny_pretrained, 'backbone.pth')
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    expect = backbone_state()
    assert sorted(state) == sorted('backbone.' + k for k in expect)
    assert all(state['backbone.' + k].shape == v.shape for k, v in expect.items())
    with open(osp.join(tiny_pretrained, 'pretrain.json')) as f:
        record = json.load(f)
    assert record['checkpoint_sha256'] == tool().sha256_files(ckpt)
    assert record['definition']['epochs'] == TINY_PRETRAIN['epochs']
    assert record['definition']['set']['looks'] == 'pretrain'
    assert 0 <= record['val']['top1'] <= 100 and record['seconds'] > 0
    with open(osp.join(tiny_pretrained, 'set', 'info.json')) as f:
        info = json.load(f)
    assert info['train_images'] == 64 * TINY_PRETRAIN['images_per_class'] and info['size'] == 64


def test_pretraining_labels_are_not_the_benchmark_classes():
    """No pre-training class shares its shape or its colour with a benchmark class: the hues lie
    further apart than the renderer's jitter (+-6 degrees) on both sides."""
    from mmdet_eql.benchmark.synthetic.presets import (COLOURS, PRETRAIN_COLOURS, PRETRAIN_SHAPES,
                                                       SHAPES, pretrain_category_table)
    assert not set(PRETRAIN_SHAPES) & set(SHAPES)
    for _, hue in PRETRAIN_COLOURS:
        gap = min(min(abs(hue - h), 360 - abs(hue - h)) for _, h in COLOURS)
        assert gap > 12, (hue, gap)
    cats = pretrain_category_table()
    assert len(cats) == 64 and len({c['name'] for c in cats}) == 64


def test_checkpoint_loads_into_the_detector_backbone(tiny_pretrained, tiny_data):
    """The leaf's model in the pre-trained regime, built and initialised as tools/train.py's
    Runner does it (the registry, then init_weights), holds the checkpoint's tensors in its
    backbone, exactly; the same leaf from scratch does not."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from mmdet_eql.benchmark.methods import load_config
    register_all_modules(init_default_scope=True)
    ckpt = osp.join(tiny_pretrained, 'backbone.pth')
    # the head reads its class frequencies from the data root
    env = dict(LONGTAIL_PRETRAINED=ckpt, LONGTAIL_DATA_ROOT=tiny_data, LONGTAIL_NUM_CLASSES='16')
    saved = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    for regime, loaded in (('pretrained', True), ('scratch', False)):
        cfg = load_config(LEAF, regime, env)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        state = model.backbone.state_dict()
        same = [torch.equal(state[k], saved['backbone.' + k]) for k in state]
        if loaded:
            assert all(same), [k for k, s in zip(state, same) if not s][:3]
        else:
            assert not any(s for k, s in zip(state, same) if k.endswith('conv1.weight'))


def test_stale_or_changed_checkpoint_is_refused(tiny_pretrained, tmp_path):
    mod = tool()
    opts = dict(TINY_PRETRAIN)

    def copy(name):
        d = str(tmp_path / name)
        shutil.copytree(tiny_pretrained, d)
        return d

    # the same definition is reused: nothing is trained
    assert mod.pretrain(copy('same'), opts)['checkpoint_sha256']
    # another schedule asked for than the one the record holds
    with pytest.raises(mod.StalePretrained, match=r'another definition \(differs in: epochs'):
        mod.pretrain(copy('epochs'), dict(opts, epochs=3))
    # the record says another config was resolved (an edited config file)
    d = copy('config')
    record = json.load(open(osp.join(d, 'pretrain.json')))
    record['definition']['resolved_config'] = '0' * 64
    json.dump(record, open(osp.join(d, 'pretrain.json'), 'w'))
    with pytest.raises(mod.StalePretrained, match='differs in: the resolved config'):
        mod.pretrain(d, opts)
    # the checkpoint changed after it was made
    d = copy('changed')
    with open(osp.join(d, 'backbone.pth'), 'ab') as f:
        f.write(b'\0')
    with pytest.raises(mod.StalePretrained, match='missing or changed since it was made'):
        mod.pretrain(d, opts)
    # a checkpoint without its record
    d = copy('norecord')
    os.remove(osp.join(d, 'pretrain.json'))
    with pytest.raises(mod.StalePretrained, match='has no record of how it was made'):
        mod.pretrain(d, opts)
    # the set changed under the checkpoint
    d = copy('set')
    with open(osp.join(d, 'set', 'class_freq.json'), 'a') as f:
        f.write(' ')
    with pytest.raises(mod.StalePretrained, match='pre-training set .* changed'):
        mod.pretrain(d, opts)
    # one pixel of one train image changed (the file rewritten: its bytes differ anyway)
    import numpy as np

    def arrays(path):
        with np.load(path) as z:
            return {k: z[k].copy() for k in z.files}

    d = copy('pixel')
    train = osp.join(d, 'set', 'train.npz')
    changed = arrays(train)
    changed['images'].flat[0] ^= 1
    np.savez_compressed(train, **changed)
    with pytest.raises(mod.StalePretrained, match='pre-training set .* changed'):
        mod.pretrain(d, opts)
    # the same content in other bytes (the arrays stored uncompressed, as another zlib or numpy
    # would write other compressed bytes): accepted
    d = copy('bytes')
    before = mod.sha256_files(osp.join(d, 'set', 'train.npz'))
    for split in ('train', 'val'):
        path = osp.join(d, 'set', f'{split}.npz')
        np.savez(path, **arrays(path))
    assert mod.sha256_files(osp.join(d, 'set', 'train.npz')) != before
    assert mod.pretrain(d, opts)['checkpoint_sha256']
    # a record of before the content fingerprint (of the files' bytes), these files: accepted,
    # and the record upgraded
    d = copy('legacy')
    record = json.load(open(osp.join(d, 'pretrain.json')))
    record['set_fingerprint'] = mod.legacy_set_fingerprint(osp.join(d, 'set'))
    json.dump(record, open(osp.join(d, 'pretrain.json'), 'w'))
    assert mod.pretrain(d, opts)['set_fingerprint'] == mod.set_fingerprint(osp.join(d, 'set'))
    assert json.load(open(osp.join(d, 'pretrain.json'))) == json.load(
        open(osp.join(tiny_pretrained, 'pretrain.json')))
    # the set deleted after the pre-training: made again from the record's options, compared by
    # content, and nothing trained again
    d = copy('deleted')
    work = sorted(os.listdir(osp.join(d, 'work')))
    shutil.rmtree(osp.join(d, 'set'))
    record = mod.pretrain(d, opts, progress=False)
    assert record['checkpoint_sha256'] == mod.sha256_files(osp.join(d, 'backbone.pth'))
    assert sorted(os.listdir(osp.join(d, 'work'))) == work
    # another set in the folder
    with pytest.raises(mod.StalePretrained, match='holds another pre-training set'):
        mod.pretrain(copy('otherset'), dict(opts, images_per_class=3))
    # bad options
    with pytest.raises(SystemExit, match='epochs must be a positive integer'):
        mod.pretrain(copy('bad'), dict(opts, epochs=0))
    with pytest.raises(SystemExit, match='epochs must be at least 2'):
        mod.pretrain(copy('short'), dict(opts, epochs=1))
    with pytest.raises(SystemExit, match="unknown pre-training option 'epoch'"):
        mod.pretrain(copy('typo'), dict(epoch=2))


def test_mismatched_checkpoint_is_refused(tiny_pretrained, tmp_path, tiny_data):
    """check_backbone names what does not fit; the demo runner refuses a checkpoint whose record
    is in order but whose tensors do not fit a leaf's backbone, naming the leaf."""
    mod = tool()
    good = osp.join(tiny_pretrained, 'backbone.pth')
    assert mod.check_backbone(BACKBONE, good) == len(backbone_state())
    narrow = tmp_path / 'narrow.pth'
    torch.save(
        {'state_dict': {
            'backbone.' + k: v
            for k, v in backbone_state(base_channels=16).items()
        }}, narrow)
    with pytest.raises(ValueError, match=r'of another shape \(first: conv1.weight \(16, 3, 7, 7\)'):
        mod.check_backbone(BACKBONE, str(narrow))
    partial = tmp_path / 'partial.pth'
    state = torch.load(good, map_location='cpu', weights_only=False)['state_dict']
    torch.save({'state_dict': {k: v for k, v in state.items() if 'layer4' not in k}}, partial)
    with pytest.raises(ValueError, match=r'tensors missing \(first: layer4'):
        mod.check_backbone(BACKBONE, str(partial))
    with pytest.raises(ValueError, match='not in the backbone'):
        mod.check_backbone(BACKBONE, good, prefix='')  # keys with their 'backbone.' left on
    # the runner: a record in order around a checkpoint of another width
    d = str(tmp_path / 'swapped')
    shutil.copytree(tiny_pretrained, d)
    shutil.copy(narrow, osp.join(d, 'backbone.pth'))
    record = json.load(open(osp.join(d, 'pretrain.json')))
    record['checkpoint_sha256'] = mod.sha256_files(osp.join(d, 'backbone.pth'))
    json.dump(record, open(osp.join(d, 'pretrain.json'), 'w'))
    res = run_tool_in_process('mmdet_eql.benchmark.detection',
                              '--preset', 'tiny', '--data-root', tiny_data, '--work-dir',
                              str(tmp_path / 'wd'), '--regime', 'pretrained', '--methods', 'rfs',
                              '--pretrained-dir', d, '--pretrain-options',
                              *[f'{k}={v}' for k, v in TINY_PRETRAIN.items()])
    assert res.returncode != 0
    assert 'mask-rcnn_r18-half_fpn_sigmoid_rfs_longtail.py' in res.stderr
    assert "does not fit the detector's backbone" in res.stderr, res.stderr
    assert not (tmp_path / 'wd' / 'rfs_seed0').exists()  # nothing trained
