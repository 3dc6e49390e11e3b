"""The gradient-ratio monitor: numbers on a hand-checked case, and inside a real training run."""
import json
import os.path as osp
import sys

import pytest
import torch
from mmdet.models.losses import CrossEntropyLoss

from mmdet_eql.engine.hooks import GradientAccumulator, ratio_report
from mmdet_eql.models.losses import EQLLoss
from mmdet_eql.utils.class_frequency import ClassFrequency

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_softmax_case_checked_by_hand():
    """Two classes and background, logits 0: softmax gives 1/3 everywhere; mean over 2 RoIs.

    RoI 0 (class 0): dL/dz = (1/3 - 1, 1/3, 1/3) / 2 -> class 0 positive 1/3, class 1 negative 1/6.
    RoI 1 (background): dL/dz = (1/3, 1/3, 1/3 - 1) / 2 -> classes 0 and 1 negative 1/6 each.
    So P = (1/3, 0), N = (1/6, 1/3), ratio = (2, 0).
    """
    loss = CrossEntropyLoss()
    acc = GradientAccumulator(num_classes=2)
    acc.attach(loss)
    z = torch.zeros(2, 3, requires_grad=True)
    loss(z, torch.tensor([0, 2])).backward()
    pos, neg, neg_bg = acc.totals()
    assert pos.tolist() == pytest.approx([1 / 3, 0.0])
    assert neg.tolist() == pytest.approx([1 / 6, 1 / 3])
    # by source: class 0's negative all from the background RoI; class 1's half and half
    assert neg_bg.tolist() == pytest.approx([1 / 6, 1 / 6])
    cf = ClassFrequency(
        freq=torch.tensor([0.5, 0.001]).numpy(),
        names=['a', 'b'],
        ids=[1, 2],
        groups=['f', 'r'],
        image_counts=[200, 2])
    rep = ratio_report(pos, neg, cf, neg_bg)
    assert rep['mean_ratio_by_group'] == pytest.approx(dict(r=0.0, f=2.0), rel=1e-6)
    assert rep['mean_background_share_by_group'] == pytest.approx(dict(r=0.5, f=1.0))
    assert rep['categories'][1] == dict(
        index=1,
        pos_grad=0.0,
        neg_grad=pytest.approx(1 / 3),
        ratio=0.0,
        neg_grad_background=pytest.approx(1 / 6),
        neg_grad_other_classes=pytest.approx(1 / 6),
        background_share=pytest.approx(0.5),
        id=2,
        name='b',
        image_count=2,
        frequency='r',
        freq=pytest.approx(0.001))
    # no grad, eval mode: nothing recorded; detach stops recording
    with torch.no_grad():
        loss(z, torch.tensor([0, 2]))
    acc.detach()
    loss(torch.zeros(2, 3, requires_grad=True), torch.tensor([1, 1])).backward()
    assert acc.steps == 1


def test_eql_gradient_seen_by_the_monitor_is_zero_for_protected_negatives():
    loss = EQLLoss(num_classes=2, lambda_=0.01, class_freq=[0.5, 0.001])
    acc = GradientAccumulator(num_classes=2)
    acc.attach(loss)
    z = torch.zeros(2, 2, requires_grad=True)
    loss(z, torch.tensor([0, 2])).backward()  # sigmoid(0) = 1/2; mean over 2 RoIs
    pos, neg, neg_bg = acc.totals()
    # RoI 0 (class 0): class 0 positive 1/4; class 1 (protected) negative 0.
    # RoI 1 (background): both classes negative 1/4.
    assert pos.tolist() == pytest.approx([0.25, 0.0])
    assert neg.tolist() == pytest.approx([0.25, 0.25])
    assert neg_bg.tolist() == pytest.approx([0.25, 0.25])  # what EQL leaves: background only


class _GivenGradient(torch.nn.Module):
    """A 'loss' whose gradient with respect to the logits is the matrix it is given."""

    def __init__(self, grad):
        super().__init__()
        self.grad = grad

    def forward(self, cls_score, label):
        return (cls_score * self.grad).sum()


def test_negatives_split_by_source_add_up_and_go_to_the_right_source():
    """Each RoI's gradient goes to exactly one source: a background RoI's to 'background' for
    every class, a foreground RoI's to 'other classes' for every class but its own (positive);
    the parts add up to the negative total as one sum over all RoIs gives it."""
    from mmdet_eql.models.losses import split_by_label
    g = torch.Generator().manual_seed(0)
    n, c = 40, 6
    grad = torch.randn(n, c + 1, generator=g, dtype=torch.float64)  # + a background column
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:5] = c
    acc = GradientAccumulator(num_classes=c)
    loss = _GivenGradient(grad)
    acc.attach(loss)
    loss.train()
    for _ in range(2):  # two steps accumulate
        loss(torch.zeros(n, c + 1, dtype=torch.float64, requires_grad=True), labels).backward()
    pos, neg, neg_bg = acc.totals()
    m = grad[:, :c].abs()
    bg = labels == c
    want_bg = 2 * m[bg].sum(0)
    want_fg = 2 * torch.stack([m[(~bg) & (labels != j), j].sum() for j in range(c)])
    want_pos = 2 * torch.stack([m[labels == j, j].sum() for j in range(c)])
    assert neg_bg.tolist() == pytest.approx(want_bg.tolist(), rel=1e-12)
    assert (neg - neg_bg).tolist() == pytest.approx(want_fg.tolist(), rel=1e-12)
    assert pos.tolist() == pytest.approx(want_pos.tolist(), rel=1e-12)
    # the same total as one split over all RoIs (the monitor's total before the split)
    _, total = split_by_label(m, labels)
    assert neg.tolist() == pytest.approx((2 * total).tolist(), rel=1e-12)


@pytest.mark.slow
def test_monitor_in_a_training_run(tmp_path, tiny_data):
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_e2e'))
    from e2e_utils import CONFIGS, options
    wd = tmp_path / 'wd'
    opts = options(
        tiny_data, 'softmax',
        iters=3) + ['train_cfg.val_interval=100', 'default_hooks.logger.interval=1']
    cfg = tmp_path / 'monitored.py'
    cfg.write_text(f"_base_ = {CONFIGS['softmax']!r}\n"
                   "custom_hooks = [dict(type='GradientRatioMonitorHook', interval=1)]\n")
    # tools/train.py's main in this process (tests/conftest.py): the training is the same, without
    # the interpreter start and imports
    from conftest import run_tool_in_process
    res = run_tool_in_process('mmdet_eql.apis.train', str(cfg), '--work-dir', str(wd),
                              '--cfg-options', *opts)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert 'GradientRatioMonitorHook (bbox_head): mean positive/negative gradient ratio: ' \
        'rare' in out
    (report, ) = list(wd.glob('*/grad_ratio.json'))
    rep = json.loads(report.read_text())
    assert rep['steps'] == 3 and len(rep['categories']) == 16
    assert set(rep['mean_ratio_by_group']) == {'r', 'c', 'f'}
    assert all(c['pos_grad'] >= 0 and c['neg_grad'] > 0 for c in rep['categories'])
    assert (report.parent / 'grad_ratio.png').stat().st_size > 0
    scalars = [json.loads(line) for line in open(report.parent / 'vis_data' / 'scalars.json')]
    assert any('grad_ratio_r' in s for s in scalars)


def test_one_stage_head_every_level_split_by_anchor_source(tiny_data, monkeypatch):
    """ATSS with the focal loss (the benchmark's one-stage leaf, tiny preset): the monitor finds
    model.bbox_head, sees the loss call of every FPN level, and its parts equal an independent
    reading: the true gradient of the whole loss with respect to each level's class scores
    (torch.autograd.grad), split by the head's own anchor labels (get_targets; background = C)."""
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.structures import InstanceData

    from mmdet_eql.engine.hooks import GradientRatioMonitorHook
    register_all_modules(init_default_scope=True)
    monkeypatch.setenv('LONGTAIL_DATA_ROOT', tiny_data)
    monkeypatch.setenv('LONGTAIL_NUM_CLASSES', '16')
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'benchmark', 'atss_r18-half_fpn_random_longtail.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    (head, ) = GradientRatioMonitorHook._bbox_heads(model)
    assert head is model.bbox_head and head.num_classes == 16
    acc = GradientAccumulator(head.num_classes)
    acc.attach(head.loss_cls)
    g = torch.Generator().manual_seed(1)
    imgs = torch.rand(2, 3, 64, 64, generator=g)
    samples = []
    for i in range(2):
        s = DetDataSample(
            metainfo=dict(
                img_shape=(64, 64),
                pad_shape=(64, 64),
                batch_input_shape=(64, 64),
                scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[4., 6., 30., 34.], [28., 20., 60., 56.], [10., 40., 26., 58.]]),
            labels=torch.tensor([i, 5, 15]))
        samples.append(s)
    feats = model.extract_feat(imgs)
    cls_scores, bbox_preds, centernesses = head(feats)
    gts = [s.gt_instances for s in samples]
    metas = [s.metainfo for s in samples]
    losses = head.loss_by_feat(cls_scores, bbox_preds, centernesses, gts, metas)
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v) for v in losses.values())
    # one backward pass: the monitor's hooks (on the scores each loss call gets) see it too
    grads = torch.autograd.grad(total, cls_scores)
    assert acc.steps == len(cls_scores) == 5  # one loss call per FPN level
    # the head's own labels per anchor (ATSS: background = num_classes)
    anchors, valid = head.get_anchors([f.shape[-2:] for f in cls_scores], metas, device='cpu')
    targets = head.get_targets(anchors, valid, gts, metas)
    labels_per_level = targets[1]
    c = head.num_classes
    want_pos = torch.zeros(c, dtype=torch.float64)
    want_bg = torch.zeros(c, dtype=torch.float64)
    want_fg = torch.zeros(c, dtype=torch.float64)
    for grad, labels in zip(grads, labels_per_level):
        m = grad.permute(0, 2, 3, 1).reshape(-1, c).abs().to(torch.float64)
        lab = labels.reshape(-1)
        bg = lab == c
        want_bg += m[bg].sum(0)
        for j in range(c):
            want_pos[j] += m[lab == j, j].sum()
            want_fg[j] += m[(~bg) & (lab != j), j].sum()
    pos, neg, neg_bg = acc.totals()
    assert pos.tolist() == pytest.approx(want_pos.tolist(), rel=1e-6, abs=1e-12)
    assert neg_bg.tolist() == pytest.approx(want_bg.tolist(), rel=1e-6, abs=1e-12)
    assert (neg - neg_bg).tolist() == pytest.approx(want_fg.tolist(), rel=1e-6, abs=1e-12)
    assert (want_pos > 0).sum() >= 3 and (want_fg > 0).all()
