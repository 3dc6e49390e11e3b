"""Mixed precision: the losses compute in float32 whatever the logits' dtype, so large logits
neither overflow nor give NaN. CPU (bfloat16 autocast, float16 tensors) always; CUDA when
present."""
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmdet_eql.models.losses import (EffectiveClassMarginLoss, EQLLoss, EqualizationLossV2,
                                     EqualizedFocalLoss, GumbelOptimizedLoss)

C = 5


def losses():
    return {
        'EQLLoss': (EQLLoss(num_classes=C, lambda_=0.01, class_freq=[1e-3, 0.5, 1e-4, 0.2,
                                                                     0.3]), C),
        'EqualizationLossV2': (EqualizationLossV2(num_classes=C), C + 1),
        'EqualizedFocalLoss': (EqualizedFocalLoss(num_classes=C), C),
        'EffectiveClassMarginLoss':
        (EffectiveClassMarginLoss(num_classes=C, class_freq=[1e-3, 0.5, 1e-4, 0.2, 0.3]), C + 1),
        # without DropLoss, whose draws would differ between the two calls compared
        'GumbelOptimizedLoss': (GumbelOptimizedLoss(num_classes=C), C),
    }


NAMES = [
    'EQLLoss', 'EqualizationLossV2', 'EqualizedFocalLoss', 'EffectiveClassMarginLoss',
    'GumbelOptimizedLoss'
]


def extreme_logits(width, dtype, device='cpu'):
    # |z| = 60: exp(60) overflows float16 (max 65504); a float16 BCE would give inf or NaN
    z = torch.tensor(
        [[60.0, -60.0, 30.0, -30.0, 0.0, 60.0][:width]] * 4, dtype=dtype, device=device)
    labels = torch.tensor([0, 1, C, 3], device=device)
    return z.requires_grad_(), labels


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_logits_give_a_float32_finite_loss(name, dtype):
    loss_fn, width = losses()[name]
    z, labels = extreme_logits(width, dtype)
    out = loss_fn(z, labels, avg_factor=4.0)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    ref, _ = extreme_logits(width, torch.float32)
    fresh, _ = losses()[name]
    assert out.item() == pytest.approx(fresh(ref, labels, avg_factor=4.0).item(), rel=1e-3)
    out.backward()
    assert z.grad.dtype == dtype and torch.isfinite(z.grad.float()).all()


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('device,dtype', [('cpu', torch.bfloat16),
                                          pytest.param('cuda', torch.float16, marks=requires_cuda)])
def test_autocast(name, device, dtype):
    loss_fn, width = losses()[name]
    loss_fn = loss_fn.to(device)
    fc = torch.nn.Linear(8, width).to(device)
    x = torch.randn(4, 8, device=device) * 50
    labels = torch.tensor([0, 1, C, 3], device=device)
    with torch.autocast(device, dtype=dtype):
        z = fc(x)
        assert z.dtype == dtype
        out = loss_fn(z, labels)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(fc.weight.grad).all()


@requires_cuda
@pytest.mark.slow
@pytest.mark.parametrize('method', ['eql', 'eqlv2'])
def test_amp_training_on_cuda(method, tmp_path, tiny_data):
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'test_e2e'))
    from e2e_utils import CONFIGS, ROOT, options
    data = tiny_data
    res = subprocess.run([
        sys.executable, 'tools/train.py', CONFIGS[method], '--amp', '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options', *options(data, method, iters=4),
        'default_hooks.logger.interval=1'
    ],
                         cwd=ROOT,
                         capture_output=True,
                         text=True)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    import glob
    import json
    (dumped, ) = glob.glob(str(tmp_path / 'wd' / '*.py'))
    assert "type='AmpOptimWrapper'" in open(dumped).read()
    logs = [
        json.loads(line)
        for p in glob.glob(str(tmp_path / 'wd' / '*' / 'vis_data' / 'scalars.json'))
        for line in open(p)
    ]
    losses = [s['loss_cls'] for s in logs if 'loss_cls' in s]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
