"""GumbelOptimizedLoss against a float64 reference written from the definitions (Alexandridis et
al. 2022: p = exp(-exp(-z)) and its binary cross-entropy, the authors' logit and loss clamps;
DropLoss of Hsieh et al. 2021 as the GOL authors train with it), the test-time activation, logits
of 1e4 in float16 / float32, and several SGD steps inside the frequency-aware RoI head with the
authors' classifier initialisation."""
import math

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS

import mmdet_eql  # noqa: F401  (registers the loss)
from mmdet_eql.models.losses import GumbelOptimizedLoss, drop_weights, gumbel_bce
from mmdet_eql.utils.class_frequency import ClassFrequency

FREQ = [0.3, 0.0005, 0.02, 0.0001, 0.6, 0.001]  # C = 6; lambda 0.0011 protects 1, 3 and 5
PROTECTED = [1, 3, 5]


def freq_cf(freq=FREQ):
    return ClassFrequency(
        freq=np.array(freq, float),
        names=[f'c{i}' for i in range(len(freq))],
        ids=list(range(1,
                       len(freq) + 1)),
        source='test')


def reference(z, labels, drop=None, clamp=(-4.0, 10.0), max_loss=20.0):
    """Literal float64 GOL: per RoI, sum over classes of
    -[y log p + (1 - y) log(1 - p)] with p = exp(-exp(-clamp(z))), each term clamped to
    [0, max_loss], times the DropLoss weight of the term (1 without DropLoss)."""
    z = z.double()
    n, c = z.shape
    out = []
    for i in range(n):
        row = torch.zeros((), dtype=torch.float64)
        for j in range(c):
            zc = torch.clamp(z[i, j], clamp[0], clamp[1])
            p = torch.exp(-torch.exp(-zc))
            y = 1.0 if labels[i] == j else 0.0
            term = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
            if max_loss is not None:
                term = torch.clamp(term, 0, max_loss)
            w = 1.0 if drop is None else float(drop[i][j])
            row = row + w * term
        out.append(row)
    return torch.stack(out)


def reference_drop(labels, protected, rand, c):
    """DropLoss's weights from its definition, RoI by RoI: a foreground RoI drops the negative
    terms of the protected classes; a background RoI drops each such term whose own draw exceeds
    the share of this call's foreground RoIs that belong to protected classes."""
    fg = [int(y) for y in labels if y < c]
    ratio = sum(y in protected for y in fg) / len(fg) if fg else None
    out = []
    for i, y in enumerate(labels.tolist()):
        row = []
        for j in range(c):
            if j == y or j not in protected:
                row.append(1.0)
            elif y < c:
                row.append(0.0)
            else:
                row.append(0.0 if ratio is not None and rand[i, j] > ratio else 1.0)
        out.append(row)
    return out


def case(n=40, c=6, seed=0, scale=4.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:10] = c  # background
    return z, labels


def test_gumbel_bce_is_the_cross_entropy_of_the_gumbel_probability():
    z = torch.linspace(-4, 10, 141, dtype=torch.float64)
    p = torch.exp(-torch.exp(-z))
    for y in (0.0, 1.0):
        target = torch.full_like(z, y)
        want = -(y * torch.log(p) + (1 - y) * torch.log1p(-p))
        assert torch.allclose(gumbel_bce(z, target), want, rtol=1e-9, atol=1e-12)
    # beyond where 1 - p rounds to 0 in float64, -log(1 - p) -> z (the series branch)
    big = torch.tensor([40.0, 100.0, 1e4], dtype=torch.float64)
    assert torch.allclose(gumbel_bce(big, torch.zeros_like(big)), big, rtol=1e-12)


@pytest.mark.parametrize('max_loss', [20.0, None])
def test_loss_and_gradient_match_the_reference(max_loss):
    z, labels = case(scale=5.0)  # logits beyond both clamps
    loss_fn = GumbelOptimizedLoss(num_classes=6, max_loss=max_loss)
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    z2 = z.clone().requires_grad_()
    ref = reference(z2, labels, max_loss=max_loss)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    assert torch.allclose(z1.grad, z2.grad, rtol=1e-9, atol=1e-12)
    # the clamp: no gradient outside [-4, 10]
    outside = (z < -4) | (z > 10)
    assert outside.any() and (z1.grad[outside] == 0).all()
    if max_loss is not None:  # a positive at z < -log(20) has a loss above 20: clamped
        assert (ref <= 6 * 20 + 1e-9).all()


def test_drop_weights_follow_the_definition():
    c = 6
    z, labels = case(n=200, seed=3)
    protected = torch.zeros(c, dtype=torch.bool)
    protected[PROTECTED] = True
    rand = torch.rand(200, c, generator=torch.Generator().manual_seed(1))
    got = drop_weights(labels, protected, rand)
    want = torch.tensor(reference_drop(labels, PROTECTED, rand, c))
    assert torch.equal(got, want)
    # no foreground RoI: nothing dropped (the authors' ratio is the mean of nothing)
    bg = torch.full((5, ), c)
    assert (drop_weights(bg, protected, torch.rand(5, c)) == 1).all()
    # only foreground RoIs of protected classes: ratio 1, no background term dropped
    labels = torch.tensor([1, 3, c, c])
    w = drop_weights(labels, protected, torch.full((4, c), 0.999))
    assert (w[2:] == 1).all() and w[0, 3] == 0 and w[0, 1] == 1


def test_dropped_share_of_background_terms_is_one_minus_the_ratio():
    """Over many draws, a background RoI keeps a protected class's negative term with probability
    r = the share of foreground RoIs of protected classes (here 1 of 4)."""
    c = 6
    protected = torch.zeros(c, dtype=torch.bool)
    protected[PROTECTED] = True
    labels = torch.tensor([0, 1, 2, 4] + [c] * 2000)
    w = drop_weights(labels, protected, torch.rand(len(labels), c))
    kept = w[4:, PROTECTED].mean().item()
    assert kept == pytest.approx(0.25, abs=0.02)


def test_drop_loss_in_the_loss_uses_torchs_generator():
    z, labels = case()
    loss_fn = GumbelOptimizedLoss(num_classes=6, class_freq=freq_cf(), drop_lambda=0.0011)
    assert loss_fn.protected.nonzero().flatten().tolist() == PROTECTED
    torch.manual_seed(7)
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    torch.manual_seed(7)
    rand = torch.rand(z.shape)
    drop = reference_drop(labels, PROTECTED, rand, 6)
    assert torch.equal(loss_fn.last_drop_weights, torch.tensor(drop))
    z2 = z.clone().requires_grad_()
    ref = reference(z2, labels, drop=drop)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    assert torch.allclose(z1.grad, z2.grad, rtol=1e-9, atol=1e-12)
    dropped = torch.tensor(drop) == 0
    assert dropped.any() and (z1.grad[dropped] == 0).all()


def test_test_time_activation_and_accuracy():
    loss_fn = GumbelOptimizedLoss(num_classes=3)
    z = torch.tensor([[-1e4, 0.0, 1e4], [2.0, -3.0, 0.3]])
    scores = loss_fn.get_activation(z)
    assert scores.shape == (2, 4) and (scores[:, 3] == 0).all()
    want = torch.exp(-torch.exp(-z.double())).float()
    assert torch.allclose(scores[:, :3], want) and torch.isfinite(scores).all()
    assert scores[0, 0] == 0 and scores[0, 2] == 1
    # foreground decision p >= 0.5, i.e. z >= -log(log 2) = 0.3665
    acc = loss_fn.get_accuracy(torch.tensor([[0.37, -5, -5], [0.36, -5, -5]]), torch.tensor([0, 3]))
    assert acc['acc_objectness'].item() == 100.0
    assert -math.log(math.log(2)) == pytest.approx(0.3665, abs=1e-4)


@pytest.mark.parametrize('dtype', [torch.float16, torch.float32, torch.bfloat16])
@pytest.mark.parametrize('drop', [False, True])
def test_logits_of_1e4_give_a_finite_loss_and_gradient(dtype, drop):
    kwargs = dict(class_freq=freq_cf(), drop_lambda=0.0011) if drop else {}
    loss_fn = GumbelOptimizedLoss(num_classes=6, max_loss=None, **kwargs)
    z = torch.tensor([[1e4, -1e4, 0.0, 1e4, -1e4, 3.0]] * 3, dtype=dtype, requires_grad=True)
    labels = torch.tensor([0, 1, 6])
    torch.manual_seed(0)
    out = loss_fn(z, labels, avg_factor=3.0)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    if not drop:  # the clamped logits' loss: exp(4) for the positive at -1e4, 10.0000227 ...
        want = reference(z.detach().double(), labels, max_loss=None).sum() / 3
        assert out.item() == pytest.approx(want.item(), rel=1e-4)
    out.backward()
    assert torch.isfinite(z.grad.float()).all()
    # and without the clamp's help: a wide clamp still gives finite values at 1e4
    wide = GumbelOptimizedLoss(num_classes=6, clamp=(-80.0, 1e5), max_loss=None)
    z2 = z.detach().clone().requires_grad_()
    out = wide(z2, labels)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z2.grad.float()).all()


def test_bad_arguments_have_clear_errors():
    with pytest.raises(ValueError, match='drop_lambda needs class frequencies'):
        GumbelOptimizedLoss(num_classes=6, drop_lambda=0.0011)
    with pytest.raises(ValueError, match=r'clamp must be \(low, high\) with -80 <= low < high'):
        GumbelOptimizedLoss(num_classes=6, clamp=(-100.0, 10.0))
    with pytest.raises(ValueError, match='clamp must be'):
        GumbelOptimizedLoss(num_classes=6, clamp=(3.0, 3.0))
    with pytest.raises(ValueError, match='max_loss must be a finite number >= 0'):
        GumbelOptimizedLoss(num_classes=6, max_loss=-1.0)
    loss_fn = GumbelOptimizedLoss(num_classes=6)
    with pytest.raises(ValueError, match=r'shape \(N, 6\) \(no background logit\), got \(4, 7\)'):
        loss_fn(torch.zeros(4, 7), torch.zeros(4, dtype=torch.long))
    with pytest.raises(FloatingPointError, match='1 NaN or infinite'):
        loss_fn(torch.tensor([[float('nan')] + [0.0] * 5]), torch.tensor([0]))


def test_trains_inside_the_frequency_aware_head_over_several_iterations():
    """The authors' head: C outputs, classifier weights 0.001 and bias -2 (their init_cfg), the
    loss with DropLoss at lambda 0.0011 from the head's frequencies; each iteration's loss_cls is
    the reference with that call's draws over mmdet's normaliser, and the dropped terms get no
    gradient."""
    c = len(FREQ)
    head = MODELS.build(
        dict(
            type='FreqAwareShared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=16,
            roi_feat_size=2,
            num_classes=c,
            class_freq=FREQ,
            prior_prob=None,
            init_cfg=dict(type='Constant', val=0.001, bias=-2, override=dict(name='fc_cls')),
            loss_cls=dict(type='GumbelOptimizedLoss', num_classes=c, drop_lambda=0.0011),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    head.init_weights()
    assert head.fc_cls.out_features == c
    assert (head.fc_cls.bias == -2).all() and (head.fc_cls.weight == 0.001).all()
    opt = torch.optim.SGD(head.parameters(), lr=0.05)
    draws = []
    for it in range(3):
        g = torch.Generator().manual_seed(it)
        n = 32
        x = torch.randn(n, 4, 2, 2, generator=g)
        labels = torch.randint(0, c + 1, (n, ), generator=g)
        labels[:4] = torch.tensor([0, 1, 2, 4])  # foreground of both kinds in every batch
        cls_score, bbox_pred = head(x)
        cls_score.retain_grad()
        rois = torch.cat([torch.zeros(n, 1), torch.rand(n, 2) * 20, 20 + torch.rand(n, 2) * 20], 1)
        torch.manual_seed(100 + it)
        losses = head.loss(cls_score, bbox_pred, rois, labels, torch.ones(n), torch.zeros(n, 4),
                           torch.ones(n, 4))
        torch.manual_seed(100 + it)
        drop = reference_drop(labels, PROTECTED, torch.rand(n, c), c)
        draws.append(drop)
        want = reference(cls_score.detach(), labels, drop=drop).sum() / n
        assert losses['loss_cls'].item() == pytest.approx(want.item(), rel=1e-5)
        opt.zero_grad()
        losses['loss_cls'].backward()
        assert (cls_score.grad[torch.tensor(drop) == 0] == 0).all()
        opt.step()
    assert draws[0] != draws[1]


def test_the_heads_prior_is_the_same_probability_under_the_gumbel_activation():
    """prior_prob=0.001 on the frequency-aware head starts every class at p = 0.001 under the
    loss's activation: bias -log(-log 0.001) = -1.93 with the Gumbel loss, -6.91 with a sigmoid
    one."""

    def head(loss):
        h = MODELS.build(
            dict(
                type='FreqAwareShared2FCBBoxHead',
                in_channels=4,
                fc_out_channels=8,
                roi_feat_size=2,
                num_classes=3,
                prior_prob=0.001,
                loss_cls=loss))
        h.init_weights()
        return h

    gumbel = head(dict(type='GumbelOptimizedLoss', num_classes=3))
    p = gumbel.loss_cls.get_activation(gumbel.fc_cls.bias[None].detach())[0, :3]
    assert torch.allclose(p, torch.full((3, ), 0.001), rtol=1e-5)
    assert gumbel.fc_cls.bias[0].item() == pytest.approx(-1.9326, abs=1e-4)
    sigmoid = head(dict(type='EQLLoss', num_classes=3, lambda_=0.0, class_freq=[0.1] * 3))
    assert sigmoid.fc_cls.bias[0].item() == pytest.approx(-6.9068, abs=1e-4)
