"""EQLv2 and EFL over several training iterations inside real mmdet heads, against float64
references written from the papers' equations and the authors' training behaviour:

- EQLv2 (Tan et al., CVPR 2021): every weight is 1 in the first iteration; the statistics
  accumulate |s - y| times the weights used, committed once per iteration.
- EFL (Li et al., CVPR 2022): the statistics accumulate |dL/dz| of the loss as the head returns it
  (after the normaliser and loss_weight), gathered over all FPN levels of an iteration and
  committed once; before any statistics the loss is the focal loss.
"""
import io

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.structures import InstanceData

import mmdet_eql  # noqa: F401  (registers the losses)


class RefEQLv2:
    """EQLv2 from the equations, float64, one update per iteration."""

    def __init__(self, c, gamma=12.0, mu=0.8, alpha=4.0):
        self.c, self.gamma, self.mu, self.alpha = c, gamma, mu, alpha
        self.P = torch.zeros(c, dtype=torch.float64)
        self.N = torch.zeros(c, dtype=torch.float64)
        self.iters = 0

    def weights(self):
        if self.iters == 0:
            return torch.ones(self.c, dtype=torch.float64), torch.ones(self.c, dtype=torch.float64)
        g = self.P / (self.N + 1e-10)
        neg_w = 1 / (1 + torch.exp(-self.gamma * (g - self.mu)))
        return 1 + self.alpha * (1 - neg_w), neg_w

    def step(self, z, labels, roi_w, avg_factor):
        """Loss and gradient of one iteration on (N, C + 1) logits; then the update."""
        z = z.detach().double()
        n = z.size(0)
        y = torch.zeros(n, self.c + 1, dtype=torch.float64)
        y[torch.arange(n), labels] = 1  # background RoIs: objectness target 1
        pos_w, neg_w = self.weights()
        one = torch.ones(1, dtype=torch.float64)
        w = torch.where(y > 0, torch.cat([pos_w, one]), torch.cat([neg_w, one]))
        s = torch.sigmoid(z)
        bce = -(y * torch.log(s) + (1 - y) * torch.log(1 - s))
        r = roi_w.double()[:, None]
        loss = (w * bce * r).sum() / avg_factor
        grad = w * (s - y) * r / avg_factor
        mag = ((s - y).abs() * w * r)[:, :self.c]
        self.P += (mag * y[:, :self.c]).sum(0)
        self.N += (mag * (1 - y[:, :self.c])).sum(0)
        self.iters += 1
        return loss, grad


class RefEFL:
    """EFL from the equations, float64; :meth:`call` once per level, :meth:`commit` per
    iteration."""

    def __init__(self, c, gamma_b=2.0, s=8.0, alpha=0.25, loss_weight=1.0):
        self.c, self.gamma_b, self.s, self.alpha, self.lw = c, gamma_b, s, alpha, loss_weight
        self.P = torch.zeros(c, dtype=torch.float64)
        self.N = torch.zeros(c, dtype=torch.float64)
        self.pend_p = torch.zeros(c, dtype=torch.float64)
        self.pend_n = torch.zeros(c, dtype=torch.float64)
        self.iters = 0

    def gammas(self):
        g = (self.P / (self.N + 1e-10)).clamp(0, 1) if self.iters else torch.ones(self.c)
        return self.gamma_b + self.s * (1 - g.double())

    def call(self, z, labels, weight, avg_factor):
        """The loss of one call and the gradient of it; the gradient's magnitudes are pending."""
        z = z.detach().double().requires_grad_()
        y = torch.zeros(z.size(0), self.c + 1, dtype=torch.float64)
        y[torch.arange(z.size(0)), labels] = 1
        y = y[:, :self.c]
        gam = self.gammas()
        p = torch.sigmoid(z)
        pt = torch.where(y > 0, p, 1 - p)
        at = torch.where(y > 0, torch.full_like(p, self.alpha), torch.full_like(p, 1 - self.alpha))
        term = -at * (gam / self.gamma_b) * (1 - pt)**gam * torch.log(pt)
        loss = self.lw * (term * weight.double()[:, None]).sum() / avg_factor
        (grad, ) = torch.autograd.grad(loss, z)
        self.pend_p += (grad.abs() * y).sum(0)
        self.pend_n += (grad.abs() * (1 - y)).sum(0)
        return loss.detach(), grad

    def commit(self):
        self.P += self.pend_p
        self.N += self.pend_n
        self.pend_p.zero_()
        self.pend_n.zero_()
        self.iters += 1


class CallRecorder:
    """Records each call of a loss module (inputs, and the gradient that reaches its logits)."""

    def __init__(self, loss_module):
        self.calls = []
        loss_module.register_forward_pre_hook(self._pre, with_kwargs=True)

    def _pre(self, module, args, kwargs):
        pred, labels, weight = args[:3]
        rec = dict(
            pred=pred.detach().clone(),
            labels=labels.detach().clone(),
            weight=weight.detach().clone(),
            avg_factor=kwargs.get('avg_factor'),
            stats_updates=int(module.grad_stats.num_updates))
        pred.register_hook(lambda g: rec.__setitem__('grad', g.detach().clone()))
        self.calls.append(rec)

    def take(self):
        calls, self.calls = self.calls, []
        return calls


def atss_head(num_classes, loss_cls):
    return MODELS.build(
        dict(
            type='ATSSHead',
            num_classes=num_classes,
            in_channels=8,
            stacked_convs=1,
            feat_channels=8,
            norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
            anchor_generator=dict(
                type='AnchorGenerator',
                ratios=[1.0],
                octave_base_scale=4,
                scales_per_octave=1,
                strides=[8, 16, 32]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=loss_cls,
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            train_cfg=dict(
                assigner=dict(type='ATSSAssigner', topk=9),
                allowed_border=-1,
                pos_weight=-1,
                debug=False)))


def atss_batch(step, num_classes):
    """Two 64 x 64 images with 1-4 objects each (the number of positives varies per step)."""
    g = torch.Generator().manual_seed(100 + step)
    feats = [torch.randn(2, 8, 64 // s, 64 // s, generator=g) for s in (8, 16, 32)]
    gts = []
    for _ in range(2):
        k = int(torch.randint(1, 5, (1, ), generator=g))
        xy = torch.rand(k, 2, generator=g) * 36
        wh = 8 + torch.rand(k, 2, generator=g) * 20
        gts.append(
            InstanceData(
                bboxes=torch.cat([xy, xy + wh], 1),
                labels=torch.randint(0, num_classes, (k, ), generator=g)))
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64), scale_factor=(1.0, 1.0))] * 2
    return feats, gts, metas


def train_atss(head, steps, recorder=None, first_step=0):
    """Yields each iteration's losses and recorded loss calls after its optimiser step."""
    opt = torch.optim.SGD(head.parameters(), lr=0.05)
    for step in range(first_step, first_step + steps):
        feats, gts, metas = atss_batch(step, head.num_classes)
        losses = head.loss_by_feat(*head(feats), gts, metas)
        total = sum(sum(v) for v in losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        yield losses, recorder.take() if recorder else None


def test_efl_in_an_atss_head_matches_the_reference_over_several_iterations():
    torch.manual_seed(0)
    c = 5
    head = atss_head(
        c, dict(type='EqualizedFocalLoss', num_classes=c, use_sigmoid=True, loss_weight=1.5))
    ref = RefEFL(c, loss_weight=1.5)
    recorder = CallRecorder(head.loss_cls)
    avg_factors = set()
    for it, (losses, calls) in enumerate(train_atss(head, 5, recorder)):
        assert len(calls) == 3  # one call per FPN level
        # every level of iteration `it` used the statistics of the iterations before it
        assert [rec['stats_updates'] for rec in calls] == [it] * 3
        avg = calls[0]['avg_factor']
        assert all(rec['avg_factor'] == avg for rec in calls)
        avg_factors.add(avg)
        # the per-level losses add up to one call on the concatenated levels
        cat = {k: torch.cat([rec[k] for rec in calls]) for k in ('pred', 'labels', 'weight')}
        want, grad = ref.call(cat['pred'], cat['labels'], cat['weight'], avg)
        got = sum(losses['loss_cls']).item()
        assert got == pytest.approx(want.item(), rel=2e-5), it
        torch.testing.assert_close(
            torch.cat([rec['grad'] for rec in calls]).double(), grad, rtol=2e-4, atol=1e-9)
        ref.commit()
        torch.testing.assert_close(head.loss_cls.grad_stats.pos_grad, ref.P, rtol=2e-5, atol=1e-12)
        torch.testing.assert_close(head.loss_cls.grad_stats.neg_grad, ref.N, rtol=2e-5, atol=1e-12)
        assert int(head.loss_cls.grad_stats.num_updates) == it + 1
    assert len(avg_factors) > 1  # the normaliser changed between iterations
    # the focusing factors moved apart from gamma_b (the statistics are in use)
    torch.testing.assert_close(head.loss_cls.focusing_factors(), ref.gammas(), rtol=1e-5, atol=0)
    assert head.loss_cls.focusing_factors().max() > 2.5


def test_efl_first_iteration_is_the_focal_loss_on_every_level():
    c = 5
    torch.manual_seed(0)
    efl_head = atss_head(c, dict(type='EqualizedFocalLoss', num_classes=c, use_sigmoid=True))
    torch.manual_seed(0)
    focal_head = atss_head(
        c, dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0))
    (efl_losses, _), = list(train_atss(efl_head, 1))
    (focal_losses, _), = list(train_atss(focal_head, 1))
    for a, b in zip(efl_losses['loss_cls'], focal_losses['loss_cls']):
        assert a.item() == pytest.approx(b.item(), rel=1e-5)


def test_efl_resume_in_the_middle_is_bit_identical():
    c = 5

    def build():
        torch.manual_seed(0)
        return atss_head(c, dict(type='EqualizedFocalLoss', num_classes=c, use_sigmoid=True))

    straight = build()
    list(train_atss(straight, 6))
    first = build()
    list(train_atss(first, 3))
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = build()
    resumed.load_state_dict(torch.load(buf))
    list(train_atss(resumed, 3, first_step=3))
    a, b = straight.state_dict(), resumed.state_dict()
    assert int(b['loss_cls.grad_stats.num_updates']) == 6
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, differ


def test_eqlv2_in_a_bbox_head_matches_the_reference_over_several_iterations():
    torch.manual_seed(0)
    c = 6
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=16,
            roi_feat_size=2,
            num_classes=c,
            loss_cls=dict(type='EqualizationLossV2', num_classes=c),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    ref = RefEQLv2(c)
    recorder = CallRecorder(head.loss_cls)
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    for it in range(6):
        g = torch.Generator().manual_seed(it)
        n = 48
        x = torch.randn(n, 4, 2, 2, generator=g)
        labels = torch.randint(0, c + 1, (n, ), generator=g)
        labels[:12] = c
        roi_w = torch.ones(n)
        cls_score, bbox_pred = head(x)
        rois = torch.cat([
            torch.zeros(n, 1),
            torch.rand(n, 2, generator=g) * 20, 20 + torch.rand(n, 2, generator=g) * 20
        ], 1)
        losses = head.loss(cls_score, bbox_pred, rois, labels, roi_w, torch.zeros(n, 4),
                           torch.ones(n, 4))
        opt.zero_grad()
        (losses['loss_cls'] + losses['loss_bbox']).backward()
        opt.step()
        (rec, ) = recorder.take()
        assert rec['stats_updates'] == it
        if it == 0:  # the authors' start: every weight 1 (within 1e-4)
            pos_w, neg_w = ref.weights()
            assert pos_w.tolist() == [1.0] * c
        want, grad = ref.step(rec['pred'], rec['labels'], rec['weight'], rec['avg_factor'])
        assert losses['loss_cls'].item() == pytest.approx(want.item(), rel=1e-5), it
        torch.testing.assert_close(rec['grad'].double(), grad, rtol=1e-4, atol=1e-9)
        torch.testing.assert_close(head.loss_cls.grad_stats.pos_grad, ref.P, rtol=1e-5, atol=1e-12)
        torch.testing.assert_close(head.loss_cls.grad_stats.neg_grad, ref.N, rtol=1e-5, atol=1e-12)
    pos_w, neg_w = head.loss_cls.get_weights()
    torch.testing.assert_close(pos_w, ref.weights()[0], rtol=1e-5, atol=1e-9)
    assert neg_w.min() < 0.9  # the weights are in use


def test_first_iteration_weights_of_eqlv2_are_one():
    loss_fn = MODELS.build(dict(type='EqualizationLossV2', num_classes=1203))
    pos_w, neg_w = loss_fn.get_weights()
    assert (pos_w - 1).abs().max() < 1e-4 and (neg_w - 1).abs().max() < 1e-4


def test_lvis_atss_leaves_efl_starts_as_the_focal_loss_and_updates_once_per_iteration():
    """The real LVIS v1 ATSS leaves (1203 classes, 5 FPN levels), same weights and images: the
    EFL leaf's first iteration equals the focal-loss leaf's on every level, and two iterations
    make two updates (one per iteration, not one per level)."""
    import os.path as osp

    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    register_all_modules(init_default_scope=True)
    models = {}
    for name in ('atss_r50_fpn_sample1e-3-ms-2x_lvis-v1',
                 'atss_r50_fpn_efl_sample1e-3-ms-2x_lvis-v1'):
        cfg = Config.fromfile(osp.join(root, 'configs', 'efl', name + '.py'))
        cfg.model.backbone.init_cfg = None  # no download; the weights are copied below
        models[name] = MODELS.build(cfg.model)
    focal, efl = models.values()
    missing = efl.load_state_dict(focal.state_dict(), strict=False)
    assert not missing.unexpected_keys
    assert all('grad_stats' in k for k in missing.missing_keys)

    def batch(seed):
        g = torch.Generator().manual_seed(seed)
        sample = DetDataSample(
            metainfo=dict(img_shape=(128, 128), pad_shape=(128, 128), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10.0, 12.0, 70.0, 80.0], [60.0, 40.0, 120.0, 110.0]]),
            labels=torch.tensor([3, 1100]))
        return torch.randn(1, 3, 128, 128, generator=g), [sample]

    focal.train()
    efl.train()
    for it in range(2):
        inputs, samples = batch(it)
        losses = efl.loss(inputs, samples)
        if it == 0:
            ref = focal.loss(inputs, samples)
            assert len(losses['loss_cls']) == 5
            for a, b in zip(losses['loss_cls'], ref['loss_cls']):
                assert a.item() == pytest.approx(b.item(), rel=1e-5)
        sum(sum(v) if isinstance(v, list) else v for v in losses.values()).backward()
        assert int(efl.bbox_head.loss_cls.grad_stats.num_updates) == it + 1
