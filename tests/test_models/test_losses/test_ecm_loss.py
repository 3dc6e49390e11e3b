"""EffectiveClassMarginLoss against a float64 reference written from the paper's equations (Cho and
Krähenbühl 2022, the margins m+ / m- and weights w of the training image counts), what the
derivation reduces to when a class has as many positives as negatives, the authors' test-time
scores, large logits in float16 / float32, and several SGD steps inside the frequency-aware RoI
head with the authors' normalised-linear classifier."""
import math

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS

import mmdet_eql  # noqa: F401  (registers the loss)
from mmdet_eql.models.losses import EffectiveClassMarginLoss, ecm_terms
from mmdet_eql.utils.class_frequency import ClassFrequency

COUNTS = [400, 3, 57, 1, 1200, 20]  # train image counts of C = 6 classes
RATIO = 6.3313


def counts_cf(counts, num_images=2000):
    counts = list(counts)
    return ClassFrequency(
        freq=np.array(counts, float) / num_images,
        image_counts=counts,
        names=[f'c{i}' for i in range(len(counts))],
        ids=list(range(1,
                       len(counts) + 1)),
        source='test')


def reference(z, labels, counts, ratio=RATIO):
    """Literal float64 ECM: for each RoI i and output j (the last: background),
    p = e^(z + m+) / (e^(z + m+) + e^(-z + m-)), loss w_j * BCE(p, y), summed over j."""
    z = z.double()
    n, width = z.shape
    n_pos = [float(c) for c in counts] + [ratio * sum(counts)]
    total = sum(n_pos)
    out = []
    for i in range(n):
        row = torch.zeros((), dtype=torch.float64)
        for j in range(width):
            np_, nn_ = n_pos[j], total - n_pos[j]
            m_pos = math.log((np_**0.25 + nn_**0.25) / nn_**0.25)
            m_neg = math.log((np_**0.25 + nn_**0.25) / np_**0.25)
            a = nn_ / np_
            w = a * math.log((1 + a) / a)
            e_pos = z[i, j] + m_pos
            e_neg = -z[i, j] + m_neg
            log_den = torch.logaddexp(e_pos, e_neg)
            y = 1.0 if labels[i] == j else 0.0
            row = row - w * (y * (e_pos - log_den) + (1 - y) * (e_neg - log_den))
        out.append(row)
    return torch.stack(out)


def case(n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = len(COUNTS)
    z = torch.randn(n, c + 1, generator=g, dtype=torch.float64) * 4
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:8] = c  # background RoIs
    return z, labels


def test_terms_are_the_papers_margins_and_weights():
    t = ecm_terms(COUNTS, RATIO)
    n = np.append(COUNTS, RATIO * sum(COUNTS)).astype(float)
    assert np.allclose(t['n_neg'], n.sum() - n)
    # the offset on 2z is the difference of the margins, a quarter of the log odds of the counts
    assert np.allclose(t['offset'], t['pos_margin'] - t['neg_margin'])
    assert np.allclose(t['offset'], 0.25 * np.log(n / (n.sum() - n)))
    # from rarer to more frequent classes (ascending counts): the positive margin grows, the
    # negative one shrinks, so the offset on 2z rises towards 0 (a rare class needs a larger
    # logit for the same probability), and the weight falls from 1
    order = np.argsort(COUNTS)
    assert np.all(np.diff(t['pos_margin'][order]) > 0)
    assert np.all(np.diff(t['neg_margin'][order]) < 0)
    assert np.all(np.diff(t['offset'][order]) > 0) and np.all(t['offset'][:-1] < 0)
    assert t['offset'][-1] > 0  # background: more positives (n_bg) than negatives
    assert np.all(np.diff(t['weight'][order]) < 0)
    assert np.all((t['weight'][:-1] > 0.9) & (t['weight'][:-1] <= 1))
    # background: a = sum / (ratio * sum), w = a log(1 + 1 / a)
    a = 1 / RATIO
    assert t['weight'][-1] == pytest.approx(a * math.log(1 + 1 / a), rel=1e-12)


def test_loss_and_gradient_match_the_reference():
    z, labels = case()
    loss_fn = EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf(COUNTS))
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    z2 = z.clone().requires_grad_()
    ref = reference(z2, labels, COUNTS)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    assert torch.allclose(z1.grad, z2.grad, rtol=1e-9, atol=1e-12)
    # mmdet's mean: the sum over RoIs divided by avg_factor (the RoI count in the head; mmdet
    # adds float32's eps to it)
    mean = loss_fn(z, labels, avg_factor=float(len(labels)))
    assert mean.item() == pytest.approx(ref.sum().item() / len(labels), rel=1e-7)


def test_frequencies_give_the_same_loss_as_counts():
    """Only ratios of counts enter: a bare list of frequencies gives the same loss."""
    z, labels = case(seed=1)
    a = EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf(COUNTS))
    b = EffectiveClassMarginLoss(num_classes=6, class_freq=[c / 1500 for c in COUNTS])
    assert torch.allclose(a(z, labels), b(z, labels), rtol=1e-12)


def test_at_balance_it_is_bce_of_the_doubled_logit_weighted_by_ln2():
    """What the derivation reduces to: with as many positives as negatives (n+ = n-: here one
    class and a background count equal to it), both margins are log 2, the offset is 0 and
    w = 1 * log 2: the loss is ln 2 * BCE(2 z), not the plain BCE of z."""
    z = torch.tensor([[1.5, -0.3], [-2.0, 0.7], [0.2, 4.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1, 1])  # 1 = background
    loss_fn = EffectiveClassMarginLoss(num_classes=1, class_freq=[0.5], fg_bg_ratio=1.0)
    t = ecm_terms([1.0], 1.0)
    assert np.allclose(t['pos_margin'], math.log(2)) and np.allclose(t['offset'], 0)
    target = torch.nn.functional.one_hot(labels, 2).double()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    want = math.log(2) * bce(2 * z, target, reduction='none').sum(1)
    got = loss_fn(z, labels, reduction_override='none')
    assert torch.allclose(got, want, rtol=1e-12)
    plain = bce(z, target, reduction='none').sum(1)
    assert not torch.allclose(got, plain, rtol=1e-2)


def test_test_time_scores_are_the_authors_plain_sigmoids():
    """At test time: sigmoid(z_j) (1 - sigmoid(z_bg)), no margin and no doubling."""
    loss_fn = EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf(COUNTS))
    z, _ = case()
    scores = loss_fn.get_activation(z)
    s = torch.sigmoid(z)
    assert scores.shape == (30, 7)
    assert torch.allclose(scores[:, :6], (s[:, :6] * (1 - s[:, 6:])).float(), rtol=1e-5, atol=1e-7)
    assert loss_fn.get_cls_channels(6) == 7


@pytest.mark.parametrize('dtype', [torch.float16, torch.float32, torch.bfloat16])
def test_logits_of_1e4_give_a_finite_loss_and_gradient(dtype):
    """The authors' ratio of exponentials overflows (inf / inf) for |z| above about 44 in float32;
    here the loss is a sigmoid of 2z + offset, computed in float32."""
    loss_fn = EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf(COUNTS))
    z = torch.tensor([[1e4, -1e4, 0.0, 1e4, -1e4, 3.0, -1e4]] * 3, dtype=dtype, requires_grad=True)
    labels = torch.tensor([0, 1, 6])
    out = loss_fn(z, labels, avg_factor=3.0)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    want = reference(z.detach().double(), labels, COUNTS).sum() / 3
    assert out.item() == pytest.approx(want.item(), rel=1e-4)
    out.backward()
    assert torch.isfinite(z.grad.float()).all()


def test_bad_arguments_have_clear_errors():
    with pytest.raises(ValueError, match='without class counts'):
        EffectiveClassMarginLoss(num_classes=6)
    with pytest.raises(
            ValueError, match=r"2 classes of test have no training image \(e.g. "
            r"\['c1', 'c3'\]\)"):
        EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf([5, 0, 3, 0, 2, 1]))
    with pytest.raises(ValueError, match='has 6 classes|6'):
        EffectiveClassMarginLoss(num_classes=5, class_freq=counts_cf(COUNTS))
    with pytest.raises(ValueError, match='fg_bg_ratio must be > 0'):
        EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf(COUNTS), fg_bg_ratio=0)
    loss_fn = EffectiveClassMarginLoss(num_classes=6, class_freq=counts_cf(COUNTS))
    with pytest.raises(ValueError, match=r'shape \(N, 7\), got \(4, 6\). ECM has a background'):
        loss_fn(torch.zeros(4, 6), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match='labels lie outside'):
        loss_fn(torch.zeros(4, 7), torch.tensor([0, 1, 7, 2]))


def test_trains_inside_the_frequency_aware_head_over_several_iterations():
    """The authors' head: a normalised-linear classifier (temperature 20) with C + 1 outputs and
    no prior; each iteration's loss_cls is the reference over mmdet's normaliser (the RoI count),
    and its gradient reaches the classifier."""
    c = len(COUNTS)
    head = MODELS.build(
        dict(
            type='FreqAwareShared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=16,
            roi_feat_size=2,
            num_classes=c,
            class_freq=counts_cf(COUNTS),
            prior_prob=None,
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(type='EffectiveClassMarginLoss', num_classes=c),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    head.init_weights()
    assert type(head.fc_cls).__name__ == 'NormedLinear' and head.fc_cls.out_features == c + 1
    assert head.loss_cls.class_freq.image_counts == COUNTS
    # a small step: the normalised classifier's rows start at norm ~0.04 (std 0.01), and the
    # gradient of a normalised row grows as 1 / its norm
    opt = torch.optim.SGD(head.parameters(), lr=1e-4)
    previous = None
    for it in range(4):
        g = torch.Generator().manual_seed(0)  # the same batch: the loss must fall
        n = 24
        x = torch.randn(n, 4, 2, 2, generator=g)
        labels = torch.randint(0, c + 1, (n, ), generator=g)
        cls_score, bbox_pred = head(x)
        rois = torch.cat([torch.zeros(n, 1), torch.rand(n, 2) * 20, 20 + torch.rand(n, 2) * 20], 1)
        losses = head.loss(cls_score, bbox_pred, rois, labels, torch.ones(n), torch.zeros(n, 4),
                           torch.ones(n, 4))
        want = reference(cls_score.detach(), labels, COUNTS).sum() / n
        assert losses['loss_cls'].item() == pytest.approx(want.item(), rel=1e-5)
        assert {'acc_cls', 'acc_objectness'} <= set(losses)
        if previous is not None:
            assert losses['loss_cls'].item() < previous
        previous = losses['loss_cls'].item()
        opt.zero_grad()
        losses['loss_cls'].backward()
        assert head.fc_cls.weight.grad.abs().sum() > 0
        opt.step()
