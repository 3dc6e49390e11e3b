"""The EQL variants the speed benchmarks time compute EQL itself, and the loss benchmark runs.

mmdet_eql.speed.loss and mmdet_eql.speed.eql_step (tools/speed/) compare EQLLoss with a simple
candidate (plain BCE with a per-element weight) and with plain sigmoid BCE; a speed comparison is
only worth something if the candidate computes the same loss and gradient as EQLLoss, and the
baseline plain BCE.
"""
import pytest
import torch
import torch.nn.functional as F

from mmdet_eql.models.losses import EQLLoss
from mmdet_eql.speed import eql_step as speed_eql_step
from mmdet_eql.speed import loss as speed_loss

#: mmdet's weight_reduce_loss divides a 'mean' by avg_factor + float32 eps
AVG = 7.0 + torch.finfo(torch.float32).eps


def _inputs(n=40, c=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=g, dtype=torch.float64) * 3).requires_grad_()
    labels = torch.randint(0, c + 1, (n, ), generator=g)  # label c: background
    # float32 values (EQLLoss reads RoI weights in float32, as mmdet's heads give them)
    weight = torch.rand(n, generator=g).double()
    freq = torch.linspace(1e-4, 0.2, c).tolist()
    return z, labels, weight, freq


def _loss_and_grad(fn, z):
    zz = z.detach().clone().requires_grad_()
    loss = fn(zz)
    loss.backward()
    return loss.detach(), zz.grad


def test_simple_candidates_equal_eqlloss():
    z, labels, weight, freq = _inputs()
    eql = EQLLoss(num_classes=9, lambda_=0.05, class_freq=freq)
    assert 0 < int(eql.tail_mask.sum()) < 9
    ref, ref_grad = _loss_and_grad(lambda x: eql(x, labels, weight=weight, avg_factor=7.0), z)
    simple_forward = speed_eql_step.simple_eql_forward(eql)
    for fn in (lambda x: simple_forward(x, labels, weight=weight, avg_factor=7.0),
               lambda x: speed_loss.weighted_bce_eql_per_roi(x, labels, eql.tail_mask, 9).mul(
                   weight).sum() / AVG):
        loss, grad = _loss_and_grad(fn, z)
        torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-12)


def test_plain_bce_baseline_is_eql_without_protection():
    z, labels, weight, freq = _inputs(seed=1)
    eql = EQLLoss(num_classes=9, lambda_=0.05, class_freq=freq)
    plain = EQLLoss(num_classes=9, lambda_=0.0, class_freq=freq)
    target = F.one_hot(labels, 10)[:, :9].double()
    literal = (F.binary_cross_entropy_with_logits(z, target, reduction='none').sum(1) * weight)
    forward = speed_eql_step.plain_bce_forward(eql)
    got = forward(z, labels, weight=weight, avg_factor=7.0)
    torch.testing.assert_close(got, literal.sum() / AVG, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, plain(z, labels, weight=weight, avg_factor=7.0))
    assert not torch.allclose(got, eql(z, labels, weight=weight, avg_factor=7.0))
    torch.testing.assert_close(speed_loss.plain_bce(z, labels, 9), literal.div(weight).sum() / 40)


def test_loss_benchmark_prints_every_variant(capsys):
    assert speed_loss.main([
        '--rois', '16', '--classes', '7', '--rounds', '1', '--block', '1', '--device', 'cpu',
        '--no-compile'
    ]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith('| cpu')]
    names = [row.split('|')[3].strip() for row in rows]
    assert names == [
        'EQLLoss', 'EQLLoss, check_inputs=False', 'EQL as weighted BCE (simple)', 'sigmoid BCE',
        'softmax CE (mmdet)'
    ]
    ratios = {name: row.split('|')[5].strip() for name, row in zip(names, rows)}
    assert ratios['sigmoid BCE'] == '1.00x'
    assert all(row.count('|') == 7 and 'failed' not in row for row in rows)


@pytest.mark.parametrize('argv', [['--rounds', '0'], ['--block', '0']])
def test_loss_benchmark_rejects_empty_measurements(argv):
    with pytest.raises(SystemExit, match='at least 1'):
        speed_loss.main(['--device', 'cpu', '--no-compile'] + argv)
