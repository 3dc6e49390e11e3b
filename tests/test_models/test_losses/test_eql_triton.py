"""The fused Triton kernels of EQL against the eager implementation and the paper's equations.

On the CPU the kernels run in Triton's interpreter, in a process of their own (eql_triton_cases.py);
on CUDA they run compiled (the tests below that need CUDA skip without it).
"""
import os
import os.path as osp
import re
import subprocess
import sys
import time

import pytest
import torch
from eql_triton_cases import case, compare
from test_eql_loss import build, make_case

from mmdet_eql.models.losses import eql_triton

pytest.importorskip('triton')
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
HERE = osp.dirname(osp.abspath(__file__))


def test_interpreted_kernels():
    """Every case of eql_triton_cases.py passes under TRITON_INTERPRET=1 (on the CPU)."""
    res = subprocess.run([
        sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
        osp.join(HERE, 'eql_triton_cases.py')
    ],
                         cwd=HERE,
                         env=dict(os.environ, TRITON_INTERPRET='1', CUDA_VISIBLE_DEVICES=''),
                         capture_output=True,
                         text=True)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    # exit 0 with nothing skipped: every collected case ran and passed (exit 5 if none)
    assert re.search(r'\d+ passed', out) and 'skipped' not in out, out[-2000:]


def test_kernel_choice(monkeypatch):
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    z, labels, freq = make_case(dtype=torch.float32)
    with pytest.raises(ValueError, match="kernel must be 'auto', 'triton' or 'torch'"):
        build(freq, kernel='cuda')
    with pytest.raises(
            RuntimeError,
            match=r"needs Triton and logits on a CUDA device; got "
            r"logits on cpu.*kernel='auto' falls back"):
        build(freq, kernel='triton')(z, labels)
    # auto on CPU logits: eager, same value as the explicit eager kernel
    assert build(freq)(z, labels).item() == build(freq, kernel='torch')(z, labels).item()


@requires_cuda
@pytest.mark.parametrize('n,c,dtype', [(512, 1203, torch.float32), (100, 2100, torch.float32),
                                       (256, 1203, torch.float16), (256, 1203, torch.bfloat16)])
def test_cuda_kernels_match_eager(n, c, dtype):
    z, labels, tail = case(n, c)
    compare(eql_triton.eql_per_roi_triton, z.cuda(), labels.cuda(), tail.cuda(), dtype=dtype)


@requires_cuda
def test_cuda_eqlloss_auto_uses_triton_and_checks_asynchronously():
    z, labels, freq = make_case(dtype=torch.float32)
    z, labels = z.cuda(), labels.cuda()
    auto = build(freq).cuda()
    eager_loss = build(freq, kernel='torch').cuda()
    zz = z.clone().requires_grad_()
    ze = z.clone().requires_grad_()
    auto(zz, labels, avg_factor=3.0).backward()
    eager_loss(ze, labels, avg_factor=3.0).backward()
    torch.testing.assert_close(zz.grad, ze.grad, rtol=1e-5, atol=1e-7)
    assert auto._use_triton(z)
    # NaN logits on an idle GPU: raised by the call (the counts are back at once) or its backward
    z_nan = z.clone()
    z_nan[0, 0] = float('nan')
    torch.cuda.synchronize()
    with pytest.raises(FloatingPointError, match='1 NaN or infinite entries of 768'):
        out = auto(z_nan.clone().requires_grad_(), labels)
        torch.cuda.synchronize()
        out.backward()
    # a busy GPU: the call returns without waiting for it, and the error comes at the backward
    # pass or, at the latest, at the next call
    torch.cuda._sleep(2_000_000_000)  # about a second of GPU time queued before the loss
    t0 = time.perf_counter()
    out = auto(z_nan.clone().requires_grad_(), labels)
    assert time.perf_counter() - t0 < 0.5, 'the input check waited for the GPU'
    with pytest.raises(FloatingPointError, match='1 NaN or infinite entries of 768'):
        out.backward()
        auto(z, labels)
    # bad labels, no backward pass: raised by this call or the next one
    bad = labels.clone()
    bad[0] = -1
    with pytest.raises(ValueError, match=r'1 labels lie outside \[0, 12\]'):
        auto(z, bad)
        auto(z, labels)
    auto(z, labels)  # settled: good inputs pass
    auto.settle_input_checks()
