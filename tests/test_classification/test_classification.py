"""Long-tailed classification: the exponential profile, CIFAR-100-LT drawn from a stand-in written
in CIFAR's own file format, the shot-group metric, the softmax EQL inside the classifier over
several steps against the float64 reference, the leaf run by tools/train.py from its config, and
the embedded set's generator."""
import json
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS

import mmdet_eql  # noqa: F401  (registers the components)
from mmdet_eql.classification import LongTailAccuracy, long_tail_counts, shot_groups

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models', 'test_losses'))
from test_softmax_eql_loss import reference  # noqa: E402

CIFAR_LEAF = osp.join(ROOT, 'configs', 'classification',
                      'resnet32_seql-g0.95_200e_cifar100-lt-ir200.py')
PER_CLASS = 12  # the stand-in's train images a class (CIFAR-100: 500)


def test_profile_is_cifar_100_lt():
    counts = long_tail_counts(500, 100, 200)
    assert counts[0] == 500 and counts[-1] == 2 and sum(counts) == 9502  # CIFAR-100-LT, ir 200
    assert sum(long_tail_counts(500, 100, 100)) == 10847  # ir 100
    assert all(a >= b for a, b in zip(counts, counts[1:]))
    with pytest.raises(ValueError, match='imbalance must be >= 1'):
        long_tail_counts(500, 100, 0.5)


@pytest.fixture(scope='module')
def cifar_stand_in(tmp_path_factory):
    """CIFAR-100's python files (train, test, meta), in their own format, with 12 train and 2 test
    images a class; each image's pixels encode its class and index."""
    root = tmp_path_factory.mktemp('cifar')
    folder = root / 'cifar-100-python'
    folder.mkdir()
    rng = np.random.RandomState(0)
    for split, n in (('train', PER_CLASS), ('test', 2)):
        labels = np.tile(np.arange(100), n)
        rng.shuffle(labels)
        data = rng.randint(0, 256, (len(labels), 3072)).astype(np.uint8)
        data[:, 0] = labels  # the first red pixel holds the class
        with open(folder / split, 'wb') as f:
            pickle.dump(
                {
                    b'data': data,
                    b'fine_labels': labels.tolist(),
                    b'filenames': [b'x.png'] * len(labels)
                }, f)
    with open(folder / 'meta', 'wb') as f:
        pickle.dump({b'fine_label_names': [f'class{i}'.encode() for i in range(100)]}, f)
    return str(root) + '/'


def test_cifar_100_lt_is_drawn_by_the_profile(cifar_stand_in):
    ds = DATASETS.build(
        dict(type='CIFAR100LTDataset', data_root=cifar_stand_in, imbalance=6, max_count=PER_CLASS))
    want = long_tail_counts(PER_CLASS, 100, 6)
    assert list(ds.metainfo['train_image_counts']) == want and min(want) == 2
    assert np.bincount(ds.labels, minlength=100).tolist() == want
    # images stay with their labels (HWC; the first red pixel holds the class)
    assert (ds.images[:, 0, 0, 0] == ds.labels).all()
    item = ds[0]
    assert item['inputs'].shape == (3, 32, 32) and item['inputs'].dtype == torch.uint8
    again = DATASETS.build(
        dict(type='CIFAR100LTDataset', data_root=cifar_stand_in, imbalance=6, max_count=PER_CLASS))
    assert np.array_equal(again.images, ds.images)  # the same draw
    other = DATASETS.build(
        dict(
            type='CIFAR100LTDataset',
            data_root=cifar_stand_in,
            imbalance=6,
            max_count=PER_CLASS,
            seed=1))
    assert not np.array_equal(other.images, ds.images)
    test = DATASETS.build(
        dict(
            type='CIFAR100LTDataset',
            data_root=cifar_stand_in,
            split='test',
            imbalance=6,
            max_count=PER_CLASS))
    assert np.bincount(test.labels).tolist() == [2] * 100  # balanced


def test_cifar_bad_inputs_have_clear_errors(cifar_stand_in, tmp_path):
    with pytest.raises(FileNotFoundError, match='python version of CIFAR-100 unpacked there'):
        DATASETS.build(dict(type='CIFAR100LTDataset', data_root=str(tmp_path)))
    with pytest.raises(ValueError, match='has 12 images of class .*fewer than max_count 500'):
        DATASETS.build(dict(type='CIFAR100LTDataset', data_root=cifar_stand_in))
    with pytest.raises(ValueError, match='leaves a class without images'):
        DATASETS.build(
            dict(
                type='CIFAR100LTDataset',
                data_root=cifar_stand_in,
                imbalance=100,
                max_count=PER_CLASS))
    bad = tmp_path / 'cifar-100-python'
    bad.mkdir()
    import subprocess
    (bad / 'meta').write_bytes(pickle.dumps(subprocess.Popen))  # not data: never loaded
    with pytest.raises(ValueError, match='not a file of the python version of CIFAR-100'):
        DATASETS.build(dict(type='CIFAR100LTDataset', data_root=str(tmp_path)))


def test_shot_groups_and_metric():
    assert shot_groups([500, 101, 100, 20, 19,
                        1]) == ['many', 'many', 'medium', 'medium', 'few', 'few']
    metric = LongTailAccuracy()
    metric.dataset_meta = dict(train_image_counts=(200, 50, 5))
    # class 0: 2 of 2 right; class 1: 1 of 2; class 2: 0 of 1
    samples = [(0, 0), (0, 0), (1, 1), (0, 1), (1, 2)]
    metric.process(None, [dict(pred_label=p, gt_label=g) for p, g in samples])
    out = metric.compute_metrics(metric.results)
    assert out == pytest.approx(
        dict(top1=60.0, many_shot=100.0, medium_shot=50.0, few_shot=0.0, mean_class=50.0))
    metric = LongTailAccuracy()
    with pytest.raises(ValueError, match='train_image_counts'):
        metric.compute_metrics([(0, 0)])


def test_softmax_eql_inside_the_classifier_over_several_steps():
    """Each training step draws beta per image; the classifier's loss equals the float64
    reference on its logits, and protected images give the other tail classes no gradient."""
    freq = [0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02]  # tail (< 0.04): classes 6, 7
    model = MODELS.build(
        dict(
            type='LongTailClassifier',
            backbone=dict(type='CifarResNet', depth=8, base_channels=4),
            num_classes=8,
            loss_cls=dict(
                type='SoftmaxEQLLoss', num_classes=8, lambda_=0.04, gamma=0.5, class_freq=freq),
            data_preprocessor=dict(type='LongTailClsPreprocessor', pad=0)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    images = list(torch.randint(0, 256, (16, 3, 32, 32), generator=g, dtype=torch.uint8))
    labels = list(torch.arange(16) % 8)
    draws = []
    for _ in range(3):
        batch = model.data_preprocessor(dict(inputs=images, data_samples=labels), training=True)
        model.train()
        logits = model.logits(batch['inputs'])
        logits.retain_grad()
        loss = model.loss_cls(logits, batch['data_samples'])
        beta = model.loss_cls.last_beta.clone()
        draws.append(beta)
        ref, ref_grad = reference(
            logits.detach(), batch['data_samples'], freq, 0.04, beta.tolist(), detection=False)
        assert loss.item() == pytest.approx(ref.mean().item(), rel=1e-5)
        opt.zero_grad()
        loss.backward()
        torch.testing.assert_close(logits.grad.double(), ref_grad / 16, rtol=1e-4, atol=1e-7)
        for i, y in enumerate(batch['data_samples'].tolist()):
            if beta[i]:
                for tail in (6, 7):
                    if tail != y:
                        assert logits.grad[i, tail] == 0
        opt.step()
    assert len({tuple(d.tolist()) for d in draws}) > 1
    # the train_step path (mmengine's), and the metric's inputs from predict
    model.eval()
    out = model(
        model.data_preprocessor(dict(inputs=images, data_samples=labels))['inputs'],
        torch.stack(labels),
        mode='predict')
    assert len(out) == 16 and {'pred_label', 'gt_label', 'scores'} <= set(out[0])


@pytest.mark.slow
def test_cifar_leaf_trains_through_tools_train(cifar_stand_in, tmp_path):
    """The paper's CIFAR-100-LT SEQL leaf, pointed at the stand-in, one epoch by tools/train.py:
    the loss protects the classes it should, the metric reports every shot group."""
    counts = long_tail_counts(PER_CLASS, 100, 6)
    freq = [n / sum(counts) for n in counts]
    cfg = tmp_path / 'stand_in.py'
    cfg.write_text(f'''_base_ = {CIFAR_LEAF!r}
data_root = {cifar_stand_in!r}
model = dict(loss_cls=dict(class_freq={freq!r}, lambda_=0.01))
_data = dict(data_root=data_root, imbalance=6, max_count={PER_CLASS})
train_dataloader = dict(batch_size=64, num_workers=0, persistent_workers=False, dataset=_data)
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_data)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1))
''')
    from conftest import run_tool_in_process
    res = run_tool_in_process('mmdet_eql.apis.train', str(cfg), '--work-dir', str(tmp_path / 'wd'))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    protected = sum(f < 0.01 for f in freq)
    assert f'SoftmaxEQLLoss: gamma=0.95, lambda=0.01 protects {protected} of 100' in out
    rows = [
        json.loads(line) for p in (tmp_path / 'wd').glob('*/vis_data/scalars.json')
        for line in open(p)
    ]
    final = [r for r in rows if 'cls/top1' in r][-1]
    # every class of the stand-in has fewer than 20 train images: all few-shot
    assert 0 <= final['cls/top1'] <= 100 and final['cls/few_shot'] == final['cls/top1'], final
    assert final['cls/many_shot'] == final['cls/medium_shot'] == -1, final
    assert any('loss_cls' in r and np.isfinite(r['loss_cls']) for r in rows)


def test_embedded_set_generator(tmp_path, run_tool):
    tool = 'mmdet_eql.benchmark.synthetic.classification'
    res = run_tool(tool, str(tmp_path / 'set'), '--imbalance', '10', '--max-count', '30',
                   '--val-per-class', '2', '--quiet')
    assert res.returncode == 0, res.stderr
    with np.load(tmp_path / 'set' / 'train.npz') as z:
        images, labels = z['images'], z['labels']
    cats = json.load(open(tmp_path / 'set' / 'class_freq.json'))['categories']
    counts = [c['image_count'] for c in cats]
    assert sorted(counts, reverse=True) == long_tail_counts(30, 64, 10)
    assert np.bincount(labels, minlength=64).tolist() == counts
    assert images.shape == (len(labels), 32, 32, 3) and images.dtype == np.uint8
    # the frequency rank is a permutation of the looks, not their order
    assert counts != sorted(counts, reverse=True)
    ds = DATASETS.build(
        dict(type='LongTailClsDataset', data_root=str(tmp_path / 'set'), split='val'))
    assert len(ds) == 128 and list(ds.metainfo['train_image_counts']) == counts
    again = run_tool(tool, str(tmp_path / 'set'), '--quiet')
    assert again.returncode != 0 and 'already holds a set' in again.stderr
    bad = run_tool(tool, str(tmp_path / 'x'), '--imbalance', '1000', '--max-count', '30')
    assert bad.returncode != 0 and 'leaves a class without train images' in bad.stderr
