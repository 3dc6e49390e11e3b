"""FederatedLoss against a float64 reference written from the definition (Zhou et al. 2021), the
sampled sets' properties (present classes always in, size, inclusion rates of weighted sampling
without replacement), plain BCE when every class is in the set, resume-exact draws, and several
iterations inside mmdet's frequency-aware RoI head."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

import mmdet_eql  # noqa: F401  (registers the loss)
from mmdet_eql.models.losses import FederatedLoss, sample_classes, sampling_weights
from mmdet_eql.utils.class_frequency import ClassFrequency


def reference(z, labels, classes):
    """Literal float64 federated loss: per RoI, sigmoid cross-entropy summed over the set."""
    z = z.double()
    n, c = z.shape
    s = torch.sigmoid(z)
    out = []
    for i in range(n):
        total = torch.zeros((), dtype=torch.float64)
        for j in range(c):
            if classes[j]:
                y = 1.0 if labels[i] == j else 0.0
                total = total - (y * torch.log(s[i, j]) + (1 - y) * torch.log(1 - s[i, j]))
        out.append(total)
    return torch.stack(out)


def counts_cf(counts):
    counts = list(counts)
    return ClassFrequency(
        freq=np.array(counts, float) / 1000,
        image_counts=counts,
        groups=['f'] * len(counts),
        names=[f'c{i}' for i in range(len(counts))],
        ids=list(range(1,
                       len(counts) + 1)),
        source='test')


def case(n=40, c=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, 4, (n, ), generator=g)  # only classes 0-3 present
    labels[:10] = c  # background
    return z, labels


def test_loss_and_gradient_match_the_reference_given_the_set():
    z, labels = case()
    loss_fn = FederatedLoss(num_classes=12, class_freq=counts_cf(range(1, 13)), num_sample_cats=7)
    torch.manual_seed(3)
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    classes = loss_fn.last_classes
    # present: 0-3 and background (5 labels) -> 2 drawn foreground classes
    assert classes[:4].all() and int(classes.sum()) == 4 + 2
    z2 = z.clone().requires_grad_()
    ref = reference(z2, labels, classes.tolist())
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g = torch.randn(len(labels), dtype=torch.float64)
    (out * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-12, atol=1e-12)
    # classes outside the set get no gradient at all
    assert (z1.grad[:, ~classes] == 0).all() and (z1.grad[:, classes] != 0).all()
    # mmdet's reduction: the sum over RoIs, weighted, over avg_factor (plus float32's eps)
    w = torch.rand(len(labels)).double()  # float32 values: mmdet casts label weights to float
    torch.manual_seed(3)
    mean = loss_fn(z, labels, weight=w, avg_factor=17.0)
    eps = torch.finfo(torch.float32).eps
    assert mean.item() == pytest.approx((ref.detach() * w).sum().item() / (17.0 + eps), rel=1e-12)


def test_every_class_in_the_set_is_plain_sigmoid_bce():
    z, labels = case()
    loss_fn = FederatedLoss(num_classes=12, class_freq=[0.1] * 12, num_sample_cats=13)
    out = loss_fn(z, labels, reduction_override='none')
    target = F.one_hot(labels, 13)[:, :12].double()
    bce = F.binary_cross_entropy_with_logits(z, target, reduction='none').sum(1)
    torch.testing.assert_close(out, bce, rtol=1e-12, atol=1e-12)
    # more classes asked than exist: all of them, no error (the authors' code would fail)
    big = FederatedLoss(num_classes=12, class_freq=[0.1] * 12, num_sample_cats=500)
    torch.testing.assert_close(big(z, labels, reduction_override='none'), bce)


def test_set_size_and_present_classes():
    weights = torch.arange(1, 21, dtype=torch.float64)
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 20, (30, ), generator=g)
        with_bg = torch.cat([labels, torch.tensor([20])])
        for lab, slots in ((labels, 8), (with_bg, 7)):  # background takes a place of the 8
            present = set(lab[lab < 20].tolist())
            mask = sample_classes(lab, weights, 8, generator=g)
            assert present <= set(torch.nonzero(mask).flatten().tolist())
            assert int(mask.sum()) == max(len(present), slots)
    # zero-weight classes are never drawn (the authors' image counts of 0)
    w = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0])
    for seed in range(10):
        mask = sample_classes(
            torch.tensor([4]), w, 3, generator=torch.Generator().manual_seed(seed))
        assert mask.tolist() == [False, True, False, True, True]


def inclusion_probabilities(weights, k):
    """Exact P(class j drawn) when k classes are drawn one by one without replacement, each with
    probability proportional to its weight among those left (enumerating every ordered draw)."""
    c = len(weights)
    p = np.zeros(c)
    for order in itertools.permutations(range(c), k):
        prob, left = 1.0, float(sum(weights))
        for j in order:
            prob *= weights[j] / left
            left -= weights[j]
        for j in order:
            p[j] += prob
    return p


def test_inclusion_rates_follow_weighted_sampling_without_replacement():
    counts = [1, 4, 9, 100, 400, 2500]  # image counts; power 0.5 -> weights 1, 2, 3, 10, 20, 50
    weights = torch.from_numpy(sampling_weights(counts_cf(counts), 0.5))
    assert weights.tolist() == [1, 2, 3, 10, 20, 50]
    draws = 20000
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([6])  # background only: 3 places for foreground classes of 4 asked
    hits = torch.zeros(6)
    for _ in range(draws):
        hits += sample_classes(labels, weights, 4, generator=g).float()
    want = inclusion_probabilities(weights.tolist(), 3)
    se = np.sqrt(want * (1 - want) / draws)
    assert np.all(np.abs(hits.numpy() / draws - want) < 5 * se + 1e-9), (hits / draws, want)
    # the draws are not with replacement, nor uniform: the rarest class is drawn far less often
    assert want[0] < 0.2 and hits[0] / draws < 0.2


def test_bare_frequencies_give_the_same_weights_up_to_scale():
    counts = [3, 30, 300, 3000]
    from_counts = sampling_weights(counts_cf(counts), 0.5)
    bare = ClassFrequency(freq=np.array(counts) / 5000, source='sequence')
    from_freq = sampling_weights(bare, 0.5)
    np.testing.assert_allclose(from_freq / from_freq.sum(), from_counts / from_counts.sum())


def test_draws_come_from_torchs_generator_so_a_resume_repeats_them():
    z, labels = case(c=30)
    labels[labels < 30] = 0
    loss_fn = FederatedLoss(num_classes=30, class_freq=counts_cf(range(1, 31)), num_sample_cats=6)
    torch.manual_seed(11)
    loss_fn(z, labels)
    state = torch.get_rng_state()  # what RNGStateHook stores in a checkpoint
    first = [loss_fn(z, labels) and loss_fn.last_classes.clone() for _ in range(5)]
    torch.set_rng_state(state)
    again = [loss_fn(z, labels) and loss_fn.last_classes.clone() for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert len({tuple(m.tolist()) for m in first}) > 1  # a new set every call


def test_bad_arguments_have_clear_errors():
    with pytest.raises(ValueError, match='built without class frequencies'):
        FederatedLoss(num_classes=4)
    with pytest.raises(ValueError, match='num_sample_cats must be a positive int, got 0'):
        FederatedLoss(num_classes=4, class_freq=[0.1] * 4, num_sample_cats=0)
    with pytest.raises(ValueError, match='freq_weight_power must be a finite number >= 0'):
        FederatedLoss(num_classes=4, class_freq=[0.1] * 4, freq_weight_power=-1)
    with pytest.raises(ValueError, match='have 3 entries but FederatedLoss has num_classes=4'):
        FederatedLoss(num_classes=4, class_freq=[0.1] * 3)
    with pytest.raises(ValueError, match='every class of sequence has weight 0'):
        FederatedLoss(num_classes=4, class_freq=[0.0] * 4)
    loss_fn = FederatedLoss(num_classes=4, class_freq=[0.1] * 4)
    with pytest.raises(ValueError, match=r'expects cls_score of shape \(N, 4\)'):
        loss_fn(torch.zeros(3, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r'1 labels lie outside \[0, 4\]'):
        loss_fn(torch.zeros(3, 4), torch.tensor([0, 5, 4]))


def test_trains_inside_the_frequency_aware_head_over_several_iterations():
    """mmdet's RoI head calls the loss once an iteration: each call samples a new set, only its
    classes get gradient, and the head's loss is the reference over mmdet's normaliser."""
    c = 10
    head = MODELS.build(
        dict(
            type='FreqAwareShared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=16,
            roi_feat_size=2,
            num_classes=c,
            class_freq=[0.001 * (k + 1) for k in range(c)],
            loss_cls=dict(type='FederatedLoss', num_classes=c, num_sample_cats=4),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    head.init_weights()
    assert head.fc_cls.out_features == c  # no background logit
    # the head's prior: b = -log((1 - p) / p), p = 0.001
    assert head.fc_cls.bias.detach().mean().item() == pytest.approx(-6.9068, abs=1e-3)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    torch.manual_seed(0)
    sets = []
    for it in range(4):
        g = torch.Generator().manual_seed(it)
        n = 32
        x = torch.randn(n, 4, 2, 2, generator=g)
        labels = torch.full((n, ), c)
        labels[:5] = it  # one present class an iteration
        cls_score, bbox_pred = head(x)
        cls_score.retain_grad()
        rois = torch.cat([torch.zeros(n, 1), torch.rand(n, 2) * 20, 20 + torch.rand(n, 2) * 20], 1)
        losses = head.loss(cls_score, bbox_pred, rois, labels, torch.ones(n), torch.zeros(n, 4),
                           torch.ones(n, 4))
        classes = head.loss_cls.last_classes.clone()
        sets.append(classes)
        assert classes[it] and int(classes.sum()) == 3  # present + 2 drawn (background: 1 place)
        want = reference(cls_score.detach(), labels, classes.tolist()).sum() / n
        assert losses['loss_cls'].item() == pytest.approx(want.item(), rel=1e-5)
        opt.zero_grad()
        (losses['loss_cls'] + losses['loss_bbox']).backward()
        assert (cls_score.grad[:, ~classes] == 0).all()
        opt.step()
    assert len({tuple(s.tolist()) for s in sets}) > 1


def test_a_sample_as_large_as_the_classes_is_said(capsys):
    """num_sample_cats at or above the class count makes the loss plain BCE: a warning says so
    (it used to log '50 classes a call' on 12 classes)."""
    from mmengine.logging import MMLogger
    MMLogger.get_instance('fed_sample_test')
    FederatedLoss(num_classes=12, num_sample_cats=50, class_freq=[1 / 12] * 12)
    out = capsys.readouterr()
    text = out.out + out.err
    assert 'num_sample_cats=50 is not below the 12 classes' in text and 'plain sigmoid' in text
    assert '50 classes a call' not in text
    FederatedLoss(num_classes=12, num_sample_cats=4, class_freq=[1 / 12] * 12)
    out = capsys.readouterr()
    assert '4 classes a call' in out.out + out.err
