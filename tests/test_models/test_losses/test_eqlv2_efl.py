"""EQLv2, the Equalized Focal Loss and their shared gradient statistics."""
import math
import os
import tempfile

import pytest
import torch
import torch.multiprocessing as mp
from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss
from mmdet.registry import MODELS

from mmdet_eql.models.losses import (EqualizationLossV2, EqualizedFocalLoss, GradientStatistics,
                                     split_by_label)


def make_case(n=40, c=6, seed=0, width=None):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, width or c + 1, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:5] = c  # background RoIs for sure
    labels[5] = 0
    return z, labels


def train_step(loss_fn, z, labels, *args, **kwargs):
    """One training forward and backward of a loss alone (statistics commit at its end)."""
    zz = z.detach().clone().requires_grad_()
    out = loss_fn(zz, labels, *args, **kwargs)
    out.sum().backward()
    return out


def literal_eqlv2(z, labels, pos_grad, neg_grad, steps, gamma=12., mu=.8, alpha=4.):
    """Per-RoI EQLv2 loss and the per-element weights, written term by term from the paper."""
    n, width = z.shape
    c = width - 1
    loss = torch.zeros(n, dtype=torch.float64)
    w = torch.zeros(n, width, dtype=torch.float64)
    for j in range(c):
        if steps:
            g = pos_grad[j] / (neg_grad[j] + 1e-10)
            neg_w = 1 / (1 + math.exp(-gamma * (g - mu)))
            pos_w = 1 + alpha * (1 - neg_w)
        else:  # the authors' start: every weight 1 in the first iteration
            pos_w = neg_w = 1.0
        for i in range(n):
            w[i, j] = pos_w if labels[i] == j else neg_w
    w[:, c] = 1.0
    for i in range(n):
        for j in range(width):
            y = 1.0 if labels[i] == j else 0.0  # label c: the objectness column's target is 1
            s = torch.sigmoid(z[i, j]).item()
            loss[i] += -w[i, j] * (y * math.log(s) + (1 - y) * math.log(1 - s))
    return loss, w


def literal_stats_update(z, labels, w, pos_grad, neg_grad, roi_w=None):
    n, width = z.shape
    for j in range(width - 1):
        for i in range(n):
            s = torch.sigmoid(z[i, j]).item()
            r = 1.0 if roi_w is None else float(roi_w[i])
            if labels[i] == j:
                pos_grad[j] += abs(s - 1) * w[i, j].item() * r
            else:
                neg_grad[j] += abs(s) * w[i, j].item() * r


def test_eqlv2_loss_and_statistics_follow_the_equations_over_several_steps():
    c = 6
    loss_fn = EqualizationLossV2(num_classes=c)
    pos, neg, steps = [0.0] * c, [0.0] * c, 0
    for step in range(4):
        z, labels = make_case(c=c, seed=step)
        roi_w = torch.rand(len(labels), generator=torch.Generator().manual_seed(9 + step))
        ref, w = literal_eqlv2(z, labels, pos, neg, steps)
        zz = z.clone().requires_grad_()
        out = loss_fn(zz, labels, roi_w, avg_factor=17.0)
        expected = (ref * roi_w.double()).sum() / 17.0
        assert out.item() == pytest.approx(expected.item(), rel=1e-6)
        # gradient: w (s - y) per element, times the RoI weight, over avg_factor
        out.backward()
        y = torch.nn.functional.one_hot(labels, c + 1).double()
        grad = w * (torch.sigmoid(z) - y) * roi_w.double()[:, None] / 17.0
        torch.testing.assert_close(zz.grad, grad.float().double(), rtol=1e-5, atol=1e-7)
        literal_stats_update(z, labels, w, pos, neg, roi_w)
        steps += 1
        torch.testing.assert_close(
            loss_fn.grad_stats.pos_grad,
            torch.tensor(pos, dtype=torch.float64),
            rtol=1e-6,
            atol=1e-9)
        torch.testing.assert_close(
            loss_fn.grad_stats.neg_grad,
            torch.tensor(neg, dtype=torch.float64),
            rtol=1e-6,
            atol=1e-9)
    assert int(loss_fn.grad_stats.num_updates) == 4
    # the weights moved away from their start: rare-ish classes got down-weighted negatives
    pos_w, neg_w = loss_fn.get_weights()
    assert not torch.allclose(neg_w, neg_w.new_full(neg_w.shape, neg_w[0].item()))


def test_eqlv2_first_weights_are_one_and_only_a_backward_pass_collects():
    loss_fn = EqualizationLossV2(num_classes=4)
    pos_w, neg_w = loss_fn.get_weights()
    # the authors start so that every weight is 1 (not g = 1, which would give 0.917 and 1.33)
    assert pos_w.tolist() == [1.0] * 4 and neg_w.tolist() == [1.0] * 4
    z, labels = make_case(c=4)
    zz = z.float().requires_grad_()
    loss_fn(zz, labels)  # training forward, no backward: nothing collected
    with torch.no_grad():
        loss_fn(z.float(), labels)
    loss_fn.eval()
    train_step(loss_fn, z.float(), labels)
    assert int(loss_fn.grad_stats.num_updates) == 0
    assert loss_fn.grad_stats.pos_grad.abs().sum() == 0
    loss_fn.train()
    train_step(loss_fn, z.float(), labels)
    assert int(loss_fn.grad_stats.num_updates) == 1
    pos_w, neg_w = loss_fn.get_weights()
    assert not torch.equal(neg_w, torch.ones_like(neg_w))


def test_eqlv2_reduction_and_zero_weights():
    z, labels = make_case()
    loss_fn = EqualizationLossV2(num_classes=6).eval()  # fixed weights between the calls
    per_roi = loss_fn(z, labels, reduction_override='none')
    assert per_roi.shape == (40, )
    assert loss_fn(
        z, labels, reduction_override='sum').item() == pytest.approx(
            per_roi.sum().item(), rel=1e-6)
    assert loss_fn(z, labels).item() == pytest.approx(per_roi.mean().item(), rel=1e-6)
    # a zero RoI weight removes that RoI from the loss and from the statistics
    fresh = EqualizationLossV2(num_classes=6)
    w = torch.ones(40)
    w[10:] = 0
    train_step(fresh, z, labels, w)
    only = EqualizationLossV2(num_classes=6)
    train_step(only, z[:10], labels[:10])
    torch.testing.assert_close(fresh.grad_stats.pos_grad, only.grad_stats.pos_grad)
    torch.testing.assert_close(fresh.grad_stats.neg_grad, only.grad_stats.neg_grad)
    empty = EqualizationLossV2(num_classes=6)
    zz = torch.zeros(0, 7, requires_grad=True)
    out = empty(zz, torch.zeros(0, dtype=torch.long), avg_factor=1.0)
    out.backward()
    assert out.item() == 0 and zz.grad.shape == (0, 7)


def test_eqlv2_bad_inputs():
    loss_fn = EqualizationLossV2(num_classes=6)
    with pytest.raises(ValueError, match='objectness column'):
        loss_fn(torch.zeros(3, 6), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='outside'):
        loss_fn(torch.zeros(3, 7), torch.tensor([0, 7, 1]))
    z = torch.zeros(3, 7)
    z[0, 0] = float('nan')
    with pytest.raises(FloatingPointError, match='EqualizationLossV2: cls_score has 1 NaN'):
        loss_fn(z, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        EqualizationLossV2(num_classes=6, use_sigmoid=False)


def test_eqlv2_test_time_scores_and_head_contract():
    loss_fn = MODELS.build(dict(type='EqualizationLossV2', num_classes=3))
    assert loss_fn.get_cls_channels(3) == 4
    z = torch.tensor([[0.0, 1.0, -1.0, 2.0]])
    s = torch.sigmoid(z)
    expected = torch.cat([s[:, :3] * (1 - s[:, 3:]), s[:, 3:]], 1)
    torch.testing.assert_close(loss_fn.get_activation(z), expected)
    acc = loss_fn.get_accuracy(
        torch.tensor([[3.0, 0.0, 0.0, -5.0], [0.0, 0.0, 0.0, 5.0]]), torch.tensor([0, 3]))
    assert acc['acc_cls'].item() == 100 and acc['acc_objectness'].item() == 100
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=8,
            roi_feat_size=2,
            num_classes=3,
            loss_cls=dict(type='EqualizationLossV2', num_classes=3)))
    assert head.fc_cls.out_features == 4
    cls_score, _ = head(torch.randn(2, 4, 2, 2))
    scores = head.loss_cls.get_activation(cls_score)
    assert scores.shape == (2, 4) and (scores[:, :3] <= 1 - scores[:, 3:]).all()


def test_state_dict_round_trip_and_resume_gives_the_same_next_step():
    a = EqualizationLossV2(num_classes=6)
    for step in range(3):
        train_step(a, *make_case(seed=step))
    b = EqualizationLossV2(num_classes=6)
    missing = b.load_state_dict(a.state_dict())
    assert not missing.missing_keys and not missing.unexpected_keys
    for key in ('pos_grad', 'neg_grad', 'num_updates'):
        assert torch.equal(getattr(a.grad_stats, key), getattr(b.grad_stats, key))
    z, labels = make_case(seed=7)
    assert a(z, labels).item() == b(z, labels).item()
    with tempfile.TemporaryDirectory() as tmp:  # through a file, with torch.load's default
        path = os.path.join(tmp, 'ckpt.pth')
        torch.save(a.state_dict(), path)
        c = EqualizationLossV2(num_classes=6)
        c.load_state_dict(torch.load(path))
        assert torch.equal(c.grad_stats.neg_grad, a.grad_stats.neg_grad)


def test_grad_stats_stay_float64_and_unset_ratio_is_one():
    stats = GradientStatistics(3)
    stats.half()
    assert stats.pos_grad.dtype == torch.float64
    assert stats.ratio().tolist() == [1.0, 1.0, 1.0]
    stats.update(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([2.0, 1.0, 0.0]))
    assert stats.ratio().tolist() == pytest.approx([0.5, 0.0, 2.0 / 1e-10])
    with pytest.raises(ValueError, match=r'\(3,\) sums'):
        stats.update(torch.zeros(4), torch.zeros(4))


def test_split_by_label_by_hand():
    m = torch.tensor([[0.1, 0.2], [0.3, 0.6], [0.5, 0.5]])
    labels = torch.tensor([0, 2, 1])  # the second is background
    pos, neg = split_by_label(m, labels)
    torch.testing.assert_close(pos, torch.tensor([0.1, 0.5], dtype=torch.float64))
    torch.testing.assert_close(neg, torch.tensor([0.3 + 0.5, 0.2 + 0.6], dtype=torch.float64))


def _worker(rank, world, init_file, batches, out_file):
    import torch.distributed as dist

    import mmdet_eql.models.losses.grad_stats as grad_stats
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    calls = []
    reduce = grad_stats.all_reduce
    grad_stats.all_reduce = lambda *a, **k: (calls.append(1), reduce(*a, **k))
    try:
        loss_fn = EqualizationLossV2(num_classes=6)
        efl = EqualizedFocalLoss(num_classes=6)
        for z, labels in batches:
            half = len(labels) // world
            sl = slice(rank * half, (rank + 1) * half)
            train_step(loss_fn, z[sl], labels[sl])
            # EFL called twice in one iteration, as a head calls it once per FPN level
            zz = z[sl, :6].clone().requires_grad_()
            mid = half // 2
            (efl(zz[:mid], labels[sl][:mid], reduction_override='sum') +
             efl(zz[mid:], labels[sl][mid:], reduction_override='sum')).backward()
        torch.save(
            dict(eqlv2=loss_fn.state_dict(), efl=efl.state_dict(), all_reduces=len(calls)),
            f'{out_file}.{rank}')
    finally:
        dist.destroy_process_group()


def test_two_processes_sum_statistics_like_one_process_on_the_whole_batch(tmp_path):
    batches = [make_case(n=40, seed=s) for s in range(3)]
    mp.spawn(_worker, args=(2, str(tmp_path / 'init'), batches, str(tmp_path / 'out')), nprocs=2)
    single = EqualizationLossV2(num_classes=6)
    efl = EqualizedFocalLoss(num_classes=6)
    for z, labels in batches:
        train_step(single, z, labels)
        train_step(efl, z[:, :6], labels, reduction_override='sum')
    for rank in range(2):
        got = torch.load(str(tmp_path / f'out.{rank}'))
        for name, ref in (('eqlv2', single), ('efl', efl)):
            for key in ('pos_grad', 'neg_grad'):
                torch.testing.assert_close(
                    got[name][f'grad_stats.{key}'], getattr(ref.grad_stats, key), rtol=1e-7, atol=0)
            assert int(got[name]['grad_stats.num_updates']) == 3
        assert got['all_reduces'] == 6  # one per loss per iteration, not one per call
    r0, r1 = (torch.load(str(tmp_path / f'out.{r}')) for r in range(2))
    assert torch.equal(r0['eqlv2']['grad_stats.neg_grad'], r1['eqlv2']['grad_stats.neg_grad'])


def literal_efl(z, labels, ratio, gamma_b=2.0, s=8.0, alpha=0.25):
    n, c = z.shape
    out = torch.zeros(n, c, dtype=torch.float64)
    for j in range(c):
        g = min(max(ratio[j], 0.0), 1.0)
        gam = gamma_b + s * (1 - g)
        for i in range(n):
            y = 1.0 if labels[i] == j else 0.0
            p = torch.sigmoid(z[i, j]).item()
            pt = p if y else 1 - p
            at = alpha if y else 1 - alpha
            out[i, j] = -at * (gam / gamma_b) * (1 - pt)**gam * math.log(pt)
    return out


def test_efl_is_the_focal_loss_before_statistics_and_follows_the_equation_after():
    z, labels = make_case(c=5, width=5)
    efl = EqualizedFocalLoss(num_classes=5)
    efl.eval()  # no statistics update: the factors stay at gamma_b
    assert efl.focusing_factors().tolist() == [2.0] * 5
    ref = py_sigmoid_focal_loss(
        z,
        torch.nn.functional.one_hot(labels, 6)[:, :5].double(),
        gamma=2.0,
        alpha=0.25,
        reduction='none')
    torch.testing.assert_close(
        efl(z, labels, reduction_override='none').double(), ref, rtol=1e-5, atol=1e-7)
    # statistics set by hand: g = [0, 0.5, 1, 2 (clamped to 1), 0.25]
    efl.grad_stats.update(
        torch.tensor([0.0, 1.0, 2.0, 4.0, 1.0]), torch.tensor([1.0, 2.0, 2.0, 2.0, 4.0]))
    gam = efl.focusing_factors()
    torch.testing.assert_close(gam, torch.tensor([10.0, 6.0, 2.0, 2.0, 8.0], dtype=torch.float64))
    ratio = efl.grad_stats.ratio().tolist()
    torch.testing.assert_close(
        efl(z, labels, reduction_override='none').double(),
        literal_efl(z, labels, ratio),
        rtol=1e-5,
        atol=1e-7)
    w = torch.rand(40)
    expected = (literal_efl(z, labels, ratio) * w.double()[:, None]).sum() / 3.0
    assert efl(z, labels, w, avg_factor=3.0).item() == pytest.approx(expected.item(), rel=1e-5)
    onehot = torch.nn.functional.one_hot(labels, 6)[:, :5]
    assert efl(z, onehot).item() == pytest.approx(efl(z, labels).item(), rel=1e-6)


def test_efl_statistics_are_the_magnitudes_of_its_own_gradient():
    """The statistics accumulate |dL_ij/dz_ij| of the (focal-modulated, weighted) loss itself:
    checked against autograd, with statistics set so that the focusing factors differ."""
    z, labels = make_case(c=5, width=5)
    w = torch.rand(40)
    # the gradient of the loss as returned: after avg_factor and loss_weight (the authors' hook)
    for kwargs, loss_weight in ((dict(reduction_override='sum'), 1.0), (dict(avg_factor=7.0), 0.5),
                                (dict(), 2.0)):
        efl = EqualizedFocalLoss(num_classes=5, loss_weight=loss_weight)
        efl.grad_stats.update(
            torch.tensor([0.0, 1.0, 2.0, 4.0, 1.0]), torch.tensor([1.0, 2.0, 2.0, 2.0, 4.0]))
        before_pos = efl.grad_stats.pos_grad.clone()
        before_neg = efl.grad_stats.neg_grad.clone()
        zz = z.clone().requires_grad_()
        efl(zz, labels, w, **kwargs).backward()
        pos, neg = split_by_label(zz.grad.abs(), labels)
        torch.testing.assert_close(efl.grad_stats.pos_grad - before_pos, pos, rtol=1e-5, atol=1e-12)
        torch.testing.assert_close(efl.grad_stats.neg_grad - before_neg, neg, rtol=1e-5, atol=1e-12)
        assert int(efl.grad_stats.num_updates) == 2
    # easy negatives barely count: on a typical one-stage batch g stays well above 0
    fresh = EqualizedFocalLoss(num_classes=5)
    logits = torch.full((2000, 5), -4.0)  # 2000 easy background anchors
    logits[:10, 2] = 0.0  # ten positives of class 2, half-way
    lab = torch.full((2000, ), 5)
    lab[:10] = 2
    train_step(fresh, logits, lab)
    assert fresh.grad_stats.ratio()[2] > 1.0  # the BCE gradient |s - y| would give 0.14


def test_efl_errors():
    efl = EqualizedFocalLoss(num_classes=5)
    with pytest.raises(ValueError, match=r'shape \(N, 5\)'):
        efl(torch.zeros(3, 7), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='use_sigmoid=True in loss_cls'):
        efl(torch.zeros(3, 6), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='gamma_b'):
        EqualizedFocalLoss(num_classes=5, gamma_b=0)


def test_efl_trains_a_retinanet_head():
    from mmengine.structures import InstanceData
    head = MODELS.build(
        dict(
            type='RetinaHead',
            num_classes=4,
            in_channels=8,
            stacked_convs=1,
            feat_channels=8,
            anchor_generator=dict(
                type='AnchorGenerator',
                octave_base_scale=4,
                scales_per_octave=1,
                ratios=[1.0],
                strides=[8, 16]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(type='EqualizedFocalLoss', num_classes=4, use_sigmoid=True),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0),
            train_cfg=dict(
                assigner=dict(
                    type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0),
                sampler=dict(type='PseudoSampler'),
                allowed_border=-1,
                pos_weight=-1,
                debug=False)))
    assert head.cls_out_channels == 4  # a sigmoid head: no background channel
    feats = [torch.randn(1, 8, 8, 8), torch.randn(1, 8, 4, 4)]
    gt = InstanceData(bboxes=torch.tensor([[8.0, 8.0, 40.0, 40.0]]), labels=torch.tensor([2]))
    meta = [dict(img_shape=(64, 64), pad_shape=(64, 64), scale_factor=(1.0, 1.0))]
    losses = head.loss_by_feat(*head(feats), [gt], meta)
    total = sum(sum(v) for v in losses.values())
    assert int(head.loss_cls.grad_stats.num_updates) == 0  # nothing before the backward pass
    total.backward()
    assert torch.isfinite(total)
    assert int(head.loss_cls.grad_stats.num_updates) == 1  # two FPN levels, one iteration
    assert head.loss_cls.grad_stats.pos_grad[2] > 0
