"""SoftmaxEQLLoss (SEQL) against a literal float64 reference written from the paper's equations
(given the draws), gamma's average effect, both layouts (detection with background last,
classification), resume-exact draws, bad inputs, and several iterations inside mmdet's own softmax
RoI head."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

import mmdet_eql  # noqa: F401  (registers the loss)
from mmdet_eql.models.losses import SoftmaxEQLLoss, seql_per_sample


def reference(z, labels, freq, lambda_, beta, detection):
    """Literal float64 SEQL: L = -log(e^{z_y} / sum_k w_k e^{z_k}), w_k = 1 - b T(f_k) (1 - y_k),
    b = beta_i, and in the detection layout b = 0 for a background RoI and the background column
    never protected. Returns (loss (N,), gradient (N, K)) with dL/dz_k = w_k e^{z_k} / sum - y_k."""
    z = z.double()
    n, k = z.shape
    c = len(freq)
    losses, grads = [], []
    for i in range(n):
        y = int(labels[i])
        b = float(beta[i]) if (not detection or y < c) else 0.0
        w = []
        for j in range(k):
            tail = 1.0 if (j < c and freq[j] < lambda_) else 0.0
            w.append(1.0 - b * tail * (0.0 if j == y else 1.0))
        denom = sum(w[j] * torch.exp(z[i, j]) for j in range(k))
        losses.append(-torch.log(torch.exp(z[i, y]) / denom))
        grads.append(
            torch.stack(
                [w[j] * torch.exp(z[i, j]) / denom - (1.0 if j == y else 0.0) for j in range(k)]))
    return torch.stack(losses), torch.stack(grads)


FREQ = [0.0005, 0.002, 0.0008, 0.05, 0.3, 0.0001, 0.01, 0.9]  # tail (< 0.001): classes 0, 2, 5


def case(n=30, c=8, detection=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c + detection, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, c, (n, ), generator=g)
    if detection:
        labels[:8] = c  # background RoIs
    labels[8:12] = torch.tensor([0, 2, 5, 5])  # tail labels too
    return z, labels


@pytest.mark.parametrize('detection', [True, False])
def test_loss_and_gradient_match_the_reference_given_the_draws(detection):
    z, labels = case(detection=detection)
    loss_fn = SoftmaxEQLLoss(num_classes=8, lambda_=0.001, gamma=0.5, class_freq=FREQ)
    torch.manual_seed(1)
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    beta = loss_fn.last_beta
    assert 0 < int(beta.sum()) < len(beta)  # some samples protect, some do not
    ref, ref_grad = reference(z, labels, FREQ, 0.001, beta.tolist(), detection)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g = torch.rand(len(labels), dtype=torch.float64)
    (out * g).sum().backward()
    torch.testing.assert_close(z1.grad, ref_grad * g[:, None], rtol=1e-12, atol=1e-12)
    tail = torch.tensor([f < 0.001 for f in FREQ])
    fg = labels < 8
    for i in range(len(labels)):
        others = tail.clone()
        if labels[i] < 8:
            others[labels[i]] = False
        if beta[i] and fg[i]:  # protected: no gradient at all into the other tail classes
            assert (z1.grad[i, :8][others] == 0).all()
        else:  # a background RoI, or beta = 0: every class is pushed down
            assert (z1.grad[i, :8][others] > 0).all()
    # mmdet's reduction: weighted sum over avg_factor (plus float32's eps)
    w = torch.rand(len(labels)).double()
    torch.manual_seed(1)
    mean = loss_fn(z, labels, weight=w, avg_factor=11.0)
    eps = torch.finfo(torch.float32).eps
    assert mean.item() == pytest.approx((ref * w).sum().item() / (11.0 + eps), rel=1e-12)


def test_gamma_zero_is_softmax_cross_entropy_and_draws_nothing():
    z, labels = case()
    loss_fn = SoftmaxEQLLoss(num_classes=8, lambda_=0.5, gamma=0.0, class_freq=FREQ)
    torch.manual_seed(5)
    out = loss_fn(z, labels, reduction_override='none')
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(torch.rand(1), after)  # the generator did not move
    torch.testing.assert_close(out, F.cross_entropy(z, labels, reduction='none'), rtol=0, atol=0)


def test_gamma_one_protects_every_foreground_sample():
    z, labels = case()
    loss_fn = SoftmaxEQLLoss(num_classes=8, lambda_=0.001, gamma=1.0, class_freq=FREQ)
    out = loss_fn(z, labels, reduction_override='none')
    ref, _ = reference(z, labels, FREQ, 0.001, [1.0] * len(labels), True)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


def test_gammas_average_effect_over_many_calls():
    """Per sample, beta is 1 with probability gamma: the draws' rate, their independence across
    samples, and the mean loss = gamma * L(beta=1) + (1 - gamma) * L(beta=0)."""
    z, labels = case(n=20)
    gamma = 0.75
    loss_fn = SoftmaxEQLLoss(num_classes=8, lambda_=0.001, gamma=gamma, class_freq=FREQ)
    torch.manual_seed(0)
    calls = 4000
    mean_loss = torch.zeros(len(labels), dtype=torch.float64)
    draws = []
    for _ in range(calls):
        mean_loss += loss_fn(z, labels, reduction_override='none')
        draws.append(loss_fn.last_beta.clone())
    mean_loss /= calls
    draws = torch.stack(draws).double()
    rate = draws.mean().item()
    se = np.sqrt(gamma * (1 - gamma) / draws.numel())
    assert abs(rate - gamma) < 5 * se, rate
    # per sample, not one draw per call: samples of one call differ
    assert (draws.std(1) > 0).float().mean() > 0.9
    corr = np.corrcoef(draws[:, 0].numpy(), draws[:, 1].numpy())[0, 1]
    assert abs(corr) < 5 / np.sqrt(calls)
    on, _ = reference(z, labels, FREQ, 0.001, [1.0] * len(labels), True)
    off, _ = reference(z, labels, FREQ, 0.001, [0.0] * len(labels), True)
    want = gamma * on + (1 - gamma) * off
    spread = (off - on).abs() * np.sqrt(gamma * (1 - gamma) / calls)
    assert ((mean_loss - want).abs() <= 5 * spread + 1e-12).all()
    assert (on <= off + 1e-12).all()  # dropping terms from the denominator lowers the loss


def test_draws_come_from_torchs_generator_so_a_resume_repeats_them():
    z, labels = case()
    loss_fn = SoftmaxEQLLoss(num_classes=8, lambda_=0.001, gamma=0.5, class_freq=FREQ)
    torch.manual_seed(11)
    loss_fn(z, labels)
    state = torch.get_rng_state()  # what RNGStateHook stores in a checkpoint
    first = [loss_fn(z, labels).item() for _ in range(4)]
    torch.set_rng_state(state)
    again = [loss_fn(z, labels).item() for _ in range(4)]
    assert first == again and len(set(first)) > 1


def test_half_precision_is_computed_in_float32():
    z, labels = case()
    beta = torch.ones(len(labels), dtype=torch.bool)
    tail = torch.tensor([f < 0.001 for f in FREQ])
    half = seql_per_sample(z.half(), labels, tail, beta)
    assert half.dtype == torch.float32
    ref = seql_per_sample(z.half().double(), labels, tail, beta)
    torch.testing.assert_close(half.double(), ref, rtol=1e-5, atol=1e-5)


def test_bad_arguments_and_inputs_have_clear_errors():
    with pytest.raises(ValueError, match='built without class frequencies'):
        SoftmaxEQLLoss(num_classes=4)
    for gamma in (-0.1, 1.5, float('nan'), True, '0.9'):
        with pytest.raises(ValueError, match=r'gamma .* must lie in \[0, 1\], got'):
            SoftmaxEQLLoss(num_classes=4, gamma=gamma, class_freq=[0.1] * 4)
    with pytest.raises(ValueError, match='lambda_ must be a finite number >= 0'):
        SoftmaxEQLLoss(num_classes=4, lambda_=-1, class_freq=[0.1] * 4)
    with pytest.raises(ValueError, match='use_sigmoid=True is not supported'):
        SoftmaxEQLLoss(num_classes=4, use_sigmoid=True, class_freq=[0.1] * 4)
    with pytest.raises(ValueError, match='have 3 entries but SoftmaxEQLLoss has num_classes=4'):
        SoftmaxEQLLoss(num_classes=4, class_freq=[0.1] * 3)
    with pytest.raises(ValueError, match='reduction must be'):
        SoftmaxEQLLoss(num_classes=4, class_freq=[0.1] * 4, reduction='avg')
    loss_fn = SoftmaxEQLLoss(num_classes=4, class_freq=[0.1] * 4)
    with pytest.raises(ValueError, match=r'shape \(N, 5\) .* or \(N, 4\) .* got \(3, 6\)'):
        loss_fn(torch.zeros(3, 6), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r'labels of shape \(3,\)'):
        loss_fn(torch.zeros(3, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r'1 labels lie outside \[0, 4\]'):
        loss_fn(torch.zeros(3, 5), torch.tensor([0, 5, 4]))
    with pytest.raises(ValueError, match='label 4 .background. with 4 logits'):
        loss_fn(torch.zeros(3, 4), torch.tensor([0, 1, 4]))
    with pytest.raises(FloatingPointError, match='1 NaN or infinite'):
        loss_fn(torch.tensor([[0.0, float('nan'), 0, 0, 0]]), torch.tensor([0]))


def test_trains_inside_mmdets_softmax_head_over_several_iterations():
    """mmdet's own Shared2FCBBoxHead (C + 1 outputs, softmax at test) calls the loss once an
    iteration: each call draws beta per RoI, the head's loss is the reference over mmdet's
    normaliser, protected RoIs give the other tail classes no gradient, and prediction is the
    head's softmax."""
    c = 8
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=16,
            roi_feat_size=2,
            num_classes=c,
            loss_cls=dict(
                type='SoftmaxEQLLoss', num_classes=c, lambda_=0.001, gamma=0.9, class_freq=FREQ),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    head.init_weights()
    assert head.fc_cls.out_features == c + 1  # background logit last
    assert not head.custom_cls_channels and not head.custom_activation
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    torch.manual_seed(0)
    tail = torch.tensor([f < 0.001 for f in FREQ])
    draws = []
    for it in range(4):
        g = torch.Generator().manual_seed(it)
        n = 32
        x = torch.randn(n, 4, 2, 2, generator=g)
        labels = torch.full((n, ), c)
        labels[:12] = torch.randint(0, c, (12, ), generator=g)
        cls_score, bbox_pred = head(x)
        cls_score.retain_grad()
        rois = torch.cat([torch.zeros(n, 1), torch.rand(n, 2) * 20, 20 + torch.rand(n, 2) * 20], 1)
        losses = head.loss(cls_score, bbox_pred, rois, labels, torch.ones(n), torch.zeros(n, 4),
                           torch.ones(n, 4))
        beta = head.loss_cls.last_beta.clone()
        draws.append(beta)
        ref, ref_grad = reference(cls_score.detach(), labels, FREQ, 0.001, beta.tolist(), True)
        assert losses['loss_cls'].item() == pytest.approx(ref.sum().item() / n, rel=1e-5)
        assert 'acc' in losses  # mmdet's own accuracy of the softmax head
        opt.zero_grad()
        (losses['loss_cls'] + losses['loss_bbox']).backward()
        torch.testing.assert_close(cls_score.grad.double(), ref_grad / n, rtol=1e-4, atol=1e-7)
        for i in range(12):
            if beta[i]:
                others = tail.clone()
                others[labels[i]] = False
                assert (cls_score.grad[i, :c][others] == 0).all()
        opt.step()
    assert len({tuple(d.tolist()) for d in draws}) > 1  # new draws every iteration
    # prediction: the head's softmax over C + 1 (mmdet), unchanged by the loss
    cls_score, _ = head(torch.randn(3, 4, 2, 2))
    assert torch.allclose(F.softmax(cls_score, -1).sum(1), torch.ones(3))
