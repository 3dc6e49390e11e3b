import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmdet_eql.models.losses import EQLLoss


def reference_eql(z, labels, freq, lam, protect_background=False):
    """Literal float64 EQL from the paper's equations: per-RoI loss summed over classes.
    ``protect_background``: E(r) = 1 for every RoI (the paper's "without E(r)")."""
    z = z.double()
    n, c = z.shape
    y = torch.zeros(n, c, dtype=torch.float64)
    for i in range(n):
        if labels[i] < c:
            y[i, labels[i]] = 1.0
    e = (labels < c).double()[:, None]  # E(r): foreground proposal
    if protect_background:
        e = torch.ones_like(e)
    t = (torch.as_tensor(freq, dtype=torch.float64) < lam).double()[None, :]  # T_lambda(f_j)
    w = 1 - e * t * (1 - y)
    s = torch.sigmoid(z)
    return -(w * (y * torch.log(s) + (1 - y) * torch.log(1 - s))).sum(1)


def make_case(n=64, c=12, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=g) * 3).to(dtype)
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:8] = c  # some background for sure
    labels[8] = 0  # a tail class as ground truth
    freq = torch.rand(c, generator=g).double() * 0.01
    freq[0] = 1e-5  # tail
    freq[1] = 0.5  # head
    return z, labels, freq.tolist()


LAM = 0.004


def build(freq, c=12, lam=LAM, **kw):
    return EQLLoss(num_classes=c, lambda_=lam, class_freq=freq, **kw)


def test_loss_and_gradient_match_reference():
    z, labels, freq = make_case()
    loss_fn = build(freq)
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    z2 = z.clone().requires_grad_()
    ref = reference_eql(z2, labels, freq, LAM)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g = torch.randn(len(labels), dtype=torch.float64)
    (out * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-12, atol=1e-12)


def test_without_e_r_background_rois_are_protected_too():
    """The ablation option: E(r) = 1 for every RoI, against the literal reference; background
    RoIs then give the tail classes no gradient; the default is unchanged."""
    z, labels, freq = make_case()
    c = z.size(1)
    loss_fn = build(freq, protect_background=True)
    z1 = z.clone().requires_grad_()
    out = loss_fn(z1, labels, reduction_override='none')
    z2 = z.clone().requires_grad_()
    ref = reference_eql(z2, labels, freq, LAM, protect_background=True)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    g = torch.randn(len(labels), dtype=torch.float64)
    (out * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-12, atol=1e-12)
    tail = torch.tensor(freq) < LAM
    bg = labels == c
    assert (z1.grad[bg][:, tail] == 0).all() and (z1.grad[bg][:, ~tail] != 0).all()
    default = build(freq)(z, labels, reduction_override='none')
    assert not torch.allclose(default, out)  # background rows differ
    torch.testing.assert_close(default[~bg], out[~bg], rtol=1e-12, atol=1e-12)
    assert 'protect_background=True' in repr(loss_fn)
    with pytest.raises(ValueError, match='protect_background must be True or False'):
        build(freq, protect_background='yes')


def test_gradient_zero_on_tail_negatives_and_bce_elsewhere():
    z, labels, freq = make_case()
    c = z.size(1)
    z1 = z.clone().requires_grad_()
    build(freq)(z1, labels, reduction_override='sum').backward()
    y = F.one_hot(labels, c + 1)[:, :c].double()
    bce_grad = torch.sigmoid(z) - y
    tail = torch.tensor(freq) < LAM
    fg = labels < c
    ignored = fg[:, None] & tail[None, :] & (y == 0)
    assert ignored.sum() > 0
    assert (z1.grad[ignored] == 0).all()
    torch.testing.assert_close(z1.grad[~ignored], bce_grad[~ignored], rtol=1e-12, atol=1e-12)
    # background RoIs push every class down, tail classes included
    assert (z1.grad[~fg][:, tail] > 0).all()


def test_lambda_zero_is_sigmoid_bce():
    z, labels, freq = make_case(dtype=torch.float32)
    c = z.size(1)
    loss = build(freq, lam=0.0)(z, labels, avg_factor=len(labels))
    y = F.one_hot(labels, c + 1)[:, :c].float()
    bce = F.binary_cross_entropy_with_logits(z, y, reduction='sum') / len(labels)
    torch.testing.assert_close(loss, bce, rtol=1e-5, atol=1e-6)


def test_paper_normalisation_and_weights():
    z, labels, freq = make_case()
    loss_fn = build(freq, loss_weight=2.0)
    per_roi = reference_eql(z, labels, freq, LAM)
    n = len(labels)
    eps = torch.finfo(torch.float32).eps  # mmdet's weight_reduce_loss adds it to avg_factor
    torch.testing.assert_close(loss_fn(z, labels, avg_factor=n), 2 * per_roi.sum() / (n + eps))
    torch.testing.assert_close(loss_fn(z, labels), 2 * per_roi.mean())
    torch.testing.assert_close(loss_fn(z, labels, reduction_override='sum'), 2 * per_roi.sum())
    w = torch.rand(n, dtype=torch.float64)
    w[:5] = 0
    torch.testing.assert_close(
        loss_fn(z, labels, w, avg_factor=17.0), 2 * (per_roi * w).sum() / (17.0 + eps))
    torch.testing.assert_close(loss_fn(z, labels, w, reduction_override='none'), 2 * per_roi * w)


def test_empty_batch_gives_zero_and_backward_works():
    loss_fn = build([0.1] * 5, c=5)
    z = torch.zeros(0, 5, requires_grad=True)
    loss = loss_fn(z, torch.zeros(0, dtype=torch.long), avg_factor=1.0)
    assert loss.item() == 0.0
    loss.backward()
    assert z.grad.shape == (0, 5)


def test_half_precision_logits_computed_in_float32():
    z, labels, freq = make_case(dtype=torch.float32)
    loss32 = build(freq)(z, labels)
    loss16 = build(freq)(z.to(torch.bfloat16), labels)
    assert loss16.dtype == torch.float32
    torch.testing.assert_close(loss16, loss32, rtol=2e-2, atol=1e-2)


def test_built_from_config_and_head_contract():
    loss_fn = MODELS.build(
        dict(type='EQLLoss', num_classes=4, lambda_=0.5, class_freq=[0.1, 0.9, 0.2, 0.7]))
    assert loss_fn.tail_mask.tolist() == [True, False, True, False]
    assert loss_fn.get_cls_channels(4) == 4
    z = torch.tensor([[0.0, 2.0, -1.0, 3.0], [-5.0, -4.0, -6.0, -3.0]])
    act = loss_fn.get_activation(z)
    assert act.shape == (2, 5)
    torch.testing.assert_close(act[:, :4], torch.sigmoid(z))
    assert (act[:, 4] == 0).all()
    acc = loss_fn.get_accuracy(z, torch.tensor([3, 4]))
    assert set(acc) == {'acc_cls', 'acc_objectness'}
    assert acc['acc_cls'].item() == pytest.approx(100.0)  # row 0 argmax is 3
    assert acc['acc_objectness'].item() == pytest.approx(100.0)  # row 1 all below 0.5


def test_tail_mask_is_a_buffer_on_the_loss_device():
    loss_fn = build([1e-5] * 6 + [0.5] * 6)
    assert 'tail_mask' in dict(loss_fn.named_buffers())
    assert loss_fn.tail_mask.dtype == torch.bool and loss_fn.tail_mask.sum() == 6
    assert 'tail_mask' not in loss_fn.state_dict()  # derived data, not training state


@pytest.mark.parametrize('preset,c,lam,expected', [
    ('lvis_v1', 1203, 0.0011, dict(r=337, c=461, f=17)),
    ('lvis_v0.5', 1230, 0.00177, dict(r=454, c=461, f=0)),
])
def test_presets_select_the_documented_classes(preset, c, lam, expected):
    loss_fn = EQLLoss(num_classes=c, lambda_=lam, class_freq=preset)
    by_group = loss_fn.class_freq.count_by_group(loss_fn.tail_mask.numpy())
    assert by_group == expected
    assert int(loss_fn.tail_mask.sum()) == sum(expected.values())


def test_cross_entropy_keys_are_accepted_but_softmax_rejected():
    EQLLoss(num_classes=3, class_freq=[0.1] * 3, use_sigmoid=True)
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        EQLLoss(num_classes=3, class_freq=[0.1] * 3, use_sigmoid=False)


def test_bad_inputs_have_clear_errors():
    loss_fn = build([0.1] * 12)
    with pytest.raises(ValueError, match='no background logit'):
        loss_fn(torch.zeros(4, 13), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match='num_classes=12'):
        build([0.1] * 11)
    with pytest.raises(ValueError, match='built without class frequencies'):
        EQLLoss(num_classes=3)
    with pytest.raises(ValueError, match='lambda_'):
        build([0.1] * 12, lam=-1.0)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        build([0.1] * 11 + [float('nan')])
    with pytest.raises(ValueError, match='unknown class-frequency preset'):
        EQLLoss(num_classes=3, class_freq='lvis_v2')


def test_gradcheck_float64():
    z, labels, freq = make_case(n=10, c=5, seed=3)
    loss_fn = build(freq, c=5)
    z = z.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: loss_fn(x, labels, reduction_override='none'), (z, ))


def test_lambda_notes():
    import logging

    from mmdet_eql.models.losses.eql_loss import protection_notes
    from mmdet_eql.utils.class_frequency import load_preset
    v1 = load_preset('lvis_v1')
    (level, msg), = protection_notes(v1, 0.0011)
    # the authors' own setting: information with the reason, not a warning
    assert level == logging.INFO
    assert msg.startswith('lambda=0.0011 also protects 17 classes of the frequent group '
                          '(101-109 train images)')
    assert protection_notes(load_preset('lvis_v0.5'), 0.00177) == []
    (level, msg), = protection_notes(v1, 1e-9)
    assert level == logging.WARNING and 'protects no class' in msg
    assert protection_notes(v1, 0.0) == []  # lambda = 0: the sigmoid baseline, on purpose


def test_authors_setting_is_named_only_for_their_lambda_on_lvis_v1():
    """The note names the EQLv2 authors' setting for lambda = 0.0011 on LVIS v1 only (it used
    to say so whatever lambda and dataset were)."""
    import dataclasses

    from mmdet_eql.models.losses.eql_loss import protection_notes
    from mmdet_eql.utils.class_frequency import load_preset
    v1 = load_preset('lvis_v1')
    authors = "the EQLv2 authors' own EQL setting for LVIS v1"
    (_, msg), = protection_notes(v1, 0.0011)
    assert authors in msg
    # the same statistics from a file (class_frequency.py on LVIS v1 train) are LVIS v1 too
    (_, msg), = protection_notes(dataclasses.replace(v1, source='lvis_v1_train_freq.json'), 0.0011)
    assert authors in msg
    (_, msg), = protection_notes(v1, 0.00177)  # another lambda on LVIS v1
    assert msg.startswith('lambda=0.00177 also protects') and authors not in msg
    # another dataset with the same names but other counts, at the authors' lambda
    other = dataclasses.replace(
        v1, source='other.json', image_counts=[n + 1 for n in v1.image_counts])
    (_, msg), = protection_notes(other, 0.0011)
    assert 'also protects' in msg and authors not in msg


def test_lambda_note_is_logged_once_per_process(capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('eql_once_test')
    from mmdet_eql.models.losses import eql_loss
    eql_loss._SAID.clear()
    for _ in range(3):
        EQLLoss(num_classes=1203, lambda_=0.0011, class_freq='lvis_v1')
    out = capsys.readouterr()
    assert (out.out + out.err).count('also protects 17 classes') == 1


def test_labels_out_of_range_and_non_finite_scores():
    loss_fn = build([0.1] * 12)
    z = torch.zeros(4, 12)
    with pytest.raises(ValueError, match=r'1 labels lie outside \[0, 12\]'):
        loss_fn(z, torch.tensor([0, 3, 13, 12]))
    with pytest.raises(ValueError, match='outside'):
        loss_fn(z, torch.tensor([-1, 3, 2, 12]))
    z[1, 2] = float('nan')
    z[3, 0] = float('inf')
    with pytest.raises(FloatingPointError, match='EQLLoss: cls_score has 2 NaN or infinite'):
        loss_fn(z, torch.tensor([0, 3, 2, 12]))
    unchecked = build([0.1] * 12, check_inputs=False)
    assert not torch.isfinite(unchecked(z, torch.tensor([0, 3, 2, 12])))


def test_config_with_eql_but_no_frequencies_fails_when_the_model_is_built():
    """A plain bbox head with EQLLoss and no class_freq: an error at build time, naming the fix."""
    from mmengine.config import Config
    cfg = Config.fromfile('configs/benchmark/mask-rcnn_r18-half_fpn_random_longtail.py')
    cfg.model.roi_head.bbox_head.loss_cls = dict(type='EQLLoss', num_classes=64)
    with pytest.raises(
            ValueError, match='EQLLoss built without class frequencies.*'
            'FreqAwareShared2FCBBoxHead'):
        MODELS.build(cfg.model)
    cfg.model.roi_head.bbox_head.loss_cls.class_freq = [0.1] * 64  # on the loss: fine
    model = MODELS.build(cfg.model)
    assert model.roi_head.bbox_head.loss_cls.class_freq is not None


def test_lambda_from_tail_ratio_by_hand(tmp_path):
    """Five classes with f = 0.01, 0.02, 0.02, 0.1, 0.5 and 1, 2, 3, 10, 84 instances (100): the
    protected classes hold at most the tail ratio (equal f together), lambda halfway to the next
    f; the loss logs the ratio reached."""
    import json

    from mmdet_eql.utils.class_frequency import resolve_class_freq
    freq, inst = [0.01, 0.02, 0.02, 0.1, 0.5], [1, 2, 3, 10, 84]
    path = tmp_path / 'freq.json'
    path.write_text(
        json.dumps(
            dict(categories=[
                dict(id=i + 1, name=f'c{i}', freq=f, image_count=k, instance_count=k)
                for i, (f, k) in enumerate(zip(freq, inst))
            ])))
    cf = resolve_class_freq(str(path))
    for ratio, lam, protected in [(0.0, 0.0, 0),
                                  (0.01, 0.015, 1), (0.05, 0.015, 1), (0.06, 0.06, 3),
                                  (0.159, 0.06, 3), (0.16, 0.3, 4), (1.0, None, 5)]:
        got = cf.lambda_for_tail_ratio(ratio)
        if lam is not None:
            assert got == pytest.approx(lam), ratio
        assert int(cf.protected(got).sum()) == protected, ratio
        assert cf.tail_ratio(got) <= ratio + 1e-12
    loss = EQLLoss(num_classes=5, lambda_=None, tail_ratio=0.06, class_freq=str(path))
    assert loss.lambda_ == pytest.approx(0.06) and loss.tail_mask.tolist() == [1, 1, 1, 0, 0]
    assert 'tail_ratio=0.06' in repr(loss)
    # the same protection as the lambda it chose
    ref = EQLLoss(num_classes=5, lambda_=0.06, class_freq=str(path))
    z, y = torch.randn(6, 5), torch.tensor([0, 1, 3, 5, 4, 2])
    assert torch.equal(loss(z, y), ref(z, y))


def test_tail_ratio_errors_are_clear():
    with pytest.raises(ValueError, match='give lambda_ or tail_ratio, not both'):
        EQLLoss(num_classes=2, tail_ratio=0.05, class_freq=[0.1, 0.2])  # default lambda_ kept
    with pytest.raises(ValueError, match=r'tail_ratio is a share of the train instances'):
        EQLLoss(num_classes=2, lambda_=None, tail_ratio=1.5, class_freq=[0.1, 0.2])
    with pytest.raises(ValueError, match='tail_ratio must be a finite number >= 0'):
        EQLLoss(num_classes=2, lambda_=None, tail_ratio=-0.1, class_freq=[0.1, 0.2])
    with pytest.raises(ValueError, match="needs each class's train instance count"):
        EQLLoss(num_classes=2, lambda_=None, tail_ratio=0.05, class_freq=[0.1, 0.2])


def test_tail_ratio_on_lvis_v05_gives_the_papers_lambdas():
    """The paper's Table 2 pairs lambda with the tail ratio it gives on LVIS v0.5 (quoted). The
    shipped v0.5 statistics give each within 0.75 points (here 0.73, 2.96, 4.57, 8.26, 9.13,
    13.80, 18.58 %; the paper's own count of its statistics is not published), and a tail ratio
    gives back a lambda that protects the same classes."""
    from mmdet_eql.utils.class_frequency import resolve_class_freq
    cf = resolve_class_freq('lvis_v0.5')
    for lam, ratio in ((0.176e-3, 0.0093), (0.5e-3, 0.031), (0.8e-3, 0.049), (1.5e-3, 0.078),
                       (1.76e-3, 0.091), (3e-3, 0.131), (5e-3, 0.182)):
        assert cf.tail_ratio(lam) == pytest.approx(ratio, abs=0.0075), lam
        back = cf.lambda_for_tail_ratio(cf.tail_ratio(lam))
        assert (cf.protected(back) == cf.protected(lam)).all(), lam


def test_notes_on_own_data_traps():
    """A class without train images, and a lambda that protects every class, are said as
    warnings with what to do (they used to pass silently, or as an INFO line in LVIS's words)."""
    import logging

    from mmdet_eql.models.losses.eql_loss import protection_notes
    from mmdet_eql.utils.class_frequency import ClassFrequency
    cf = ClassFrequency(
        freq=np.array([0.5, 0.2, 0.05, 0.0]),
        names=['car', 'bus', 'tram', 'kart'],
        groups=['f', 'f', 'c', 'r'],
        image_counts=[150, 60, 15, 0])
    notes = protection_notes(cf, 0.1)
    assert [level for level, _ in notes] == [logging.WARNING]
    assert "1 of 4 classes have no train image (f = 0: 'kart')" in notes[0][1]
    assert 'lambda > 0 protects them' in notes[0][1]
    every = protection_notes(cf, 0.6)
    assert any(level == logging.WARNING and 'protects all 4 classes' in msg and 'tail_ratio' in msg
               for level, msg in every), every
    assert not any('frequent group' in msg for _, msg in every)  # said once, as a warning
    # lambda = 0 (the sigmoid baseline): the empty class is still named, without protection
    (level, msg), = protection_notes(cf, 0.0)
    assert level == logging.WARNING and 'protects them' not in msg


def test_inherited_lambda_and_tail_ratio_message_names_the_key_to_clear():
    with pytest.raises(ValueError, match=r'lambda_=0.0, tail_ratio=None'):
        EQLLoss(num_classes=3, lambda_=0.0, tail_ratio=0.09, class_freq=[0.1, 0.2, 0.7])
