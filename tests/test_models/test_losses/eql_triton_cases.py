"""Cases of the fused Triton EQL kernels, run in Triton's CPU interpreter.

Triton decides at decoration time whether a kernel is compiled or interpreted, so these cases run
in a process started with TRITON_INTERPRET=1: test_eql_triton.py::test_interpreted_kernels starts
it. The helpers (case, compare) serve the CUDA tests there as well.
"""
import copy

import pytest
import torch
from test_eql_loss import LAM, build, make_case, reference_eql

from mmdet_eql.models.losses import eql_loss, eql_triton


@pytest.fixture
def interp():
    """The kernel module, its kernels interpreted (this process started with TRITON_INTERPRET=1)."""
    assert eql_triton.interpreting()
    return eql_triton


def case(n, c, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g) * 4
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    labels[:n // 3] = c  # background RoIs
    tail = torch.rand(c, generator=g) < 0.5
    return z, labels, tail


def eager(z, labels, tail):
    return eql_loss._EQLFunction.apply(z, labels, tail)


def compare(fused_fn, z, labels, tail, dtype=torch.float32):
    """Loss and gradient of the fused kernels against eager EQL in float64, same inputs."""
    zd = z.to(dtype).double().requires_grad_()
    zf = z.to(dtype).clone().requires_grad_()
    ref = eager(zd, labels.to(zd.device), tail.to(zd.device))
    out, flags = fused_fn(zf, labels, tail)
    assert out.dtype == torch.float32 and out.shape == (z.size(0), )
    assert flags.tolist() == [0, 0]
    # an mmdet-style reduction: its backward hands the kernel an expanded (stride-0) gradient
    (out.sum() / max(z.size(0), 1)).backward()
    (ref.sum() / max(z.size(0), 1)).backward()
    assert zf.grad.dtype == dtype
    torch.testing.assert_close(out.double(), ref.detach(), rtol=1e-5, atol=1e-4)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-4)
    torch.testing.assert_close(zf.grad.double(), zd.grad, **tol)


@pytest.mark.parametrize('n,c', [(7, 5), (64, 1203), (5, 2100), (3, 1)])
def test_interpreted_kernels_match_eager(interp, n, c):
    # 2100 > MAX_BLOCK_C: the kernels loop over two blocks of classes
    compare(interp.eql_per_roi_triton, *case(n, c))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_interpreted_kernels_half_precision(interp, dtype):
    compare(interp.eql_per_roi_triton, *case(16, 37), dtype=dtype)


def test_interpreted_kernels_strided_logits_and_empty(interp):
    z, labels, tail = case(9, 20)
    wide = torch.randn(9, 31)
    wide[:, 3:23] = z
    compare(interp.eql_per_roi_triton, wide[:, 3:23], labels, tail)  # row stride 31
    out, flags = interp.eql_per_roi_triton(torch.zeros(0, 20, requires_grad=True), labels[:0], tail)
    assert out.shape == (0, ) and flags.tolist() == [0, 0]


def test_interpreted_kernels_count_bad_inputs(interp):
    z, labels, tail = case(6, 8)
    labels[0], labels[1] = -1, 9
    z[2, 3], z[3, 0], z[3, 7] = float('nan'), float('inf'), -float('inf')
    loss, flags = interp.eql_per_roi_triton(z, labels, tail)
    assert flags.tolist() == [2, 3]
    assert torch.isfinite(loss[[0, 1, 4, 5]]).all()  # bad labels read as background, no crash


def test_eqlloss_triton_equals_paper_equations(interp):
    z, labels, freq = make_case(dtype=torch.float32)
    weight = torch.rand(z.size(0))
    ref = (reference_eql(z, labels, freq, LAM) * weight.double()).sum() / 7.0
    for kernel in ('triton', 'torch'):
        zz = z.clone().requires_grad_()
        out = build(freq, kernel=kernel)(zz, labels, weight=weight, avg_factor=7.0)
        assert out.item() == pytest.approx(ref.item(), rel=1e-5)
        out.backward()
        if kernel == 'triton':
            grad_triton = zz.grad
    zd = z.double().requires_grad_()
    ((reference_eql(zd, labels, freq, LAM) * weight.double()).sum() / 7.0).backward()
    torch.testing.assert_close(grad_triton.double(), zd.grad, rtol=1e-5, atol=1e-7)


def test_eqlloss_triton_raises_on_bad_inputs(interp):
    z, labels, freq = make_case(dtype=torch.float32)
    loss = build(freq, kernel='triton')
    bad = labels.clone()
    bad[3] = 13
    with pytest.raises(ValueError, match=r'1 labels lie outside \[0, 12\]'):
        loss(z, bad)
    z_nan = z.clone()
    z_nan[0, 0] = float('nan')
    with pytest.raises(FloatingPointError, match='2 NaN or infinite entries of 768'):
        z_nan[1, 1] = float('inf')
        loss(z_nan, labels)
    assert torch.isfinite(build(freq, kernel='triton', check_inputs=False)(z_nan, labels)) \
        .logical_not().item()  # unchecked: the NaN comes through, as documented


def test_module_has_no_pending_state_in_copies(interp):
    z, labels, freq = make_case(dtype=torch.float32)
    loss = build(freq, kernel='triton')
    loss(z, labels)
    clone = copy.deepcopy(loss)
    assert clone(z, labels).item() == loss(z, labels).item()
