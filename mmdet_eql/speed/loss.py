"""Forward + backward time and memory of EQLLoss against plain sigmoid BCE and softmax CE.

    python tools/speed/loss.py [--rois 1024 8192] [--classes 1203] [--no-compile]

The EQL variants: ``EQLLoss`` as it runs (its analytic autograd Function), without its input
check, EQL as plain BCE with a per-element weight built in the call (the simple candidate), and
``torch.compile`` of the analytic loss and of the simple one.

At LVIS shapes (C = 1203 classes), for N RoIs: median time of forward+backward over repeats, the
losses taking turns round by round (so that a slow spell of a shared machine hits all alike), the
median over rounds of the time ratio to plain BCE in the same round, and memory: on CUDA the peak
allocated during a step, on the CPU the bytes autograd saves for the backward pass (torch has no
CPU peak counter).
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from mmdet_eql.models.losses import EQLLoss


def plain_bce(logits, labels, c):
    """Sigmoid BCE over C foreground logits, one-hot targets, summed over classes / N."""
    target = F.one_hot(labels, c + 1)[:, :c].to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, reduction='sum') / logits.size(0)


def weighted_bce_eql_per_roi(logits, labels, tail_mask, c):
    """(N,) EQL as plain BCE with a per-element weight built in the call:
    w_ij = 1 - e_i t_j (1 - y_ij), summed over classes (the simple candidate ``EQLLoss`` is
    measured against)."""
    target = F.one_hot(labels, c + 1)[:, :c].to(logits.dtype)
    fg = (labels < c).to(logits.dtype)[:, None]
    weight = 1 - fg * tail_mask.to(logits.dtype)[None] * (1 - target)
    return F.binary_cross_entropy_with_logits(
        logits, target, weight=weight, reduction='none').sum(1)


def weighted_bce_eql(logits, labels, tail_mask, c):
    """The simple candidate averaged over RoIs, as ``EQLLoss`` with ``avg_factor=N``."""
    return weighted_bce_eql_per_roi(logits, labels, tail_mask, c).sum() / logits.size(0)


def median_ratios(times: dict, base: str) -> dict:
    """{name: (median time in ms, median over rounds of its time over ``base``'s in the same
    round)} from {name: [time of each round in s]}."""
    return {
        name: (statistics.median(ts) * 1e3, statistics.median(t / b
                                                              for t, b in zip(ts, times[base])))
        for name, ts in times.items()
    }


def make_losses(c, device, compiled=True):
    from mmdet.models.losses import CrossEntropyLoss
    freq = torch.linspace(1e-5, 0.3, c).tolist()
    eql = EQLLoss(num_classes=c, lambda_=0.0011, class_freq=freq).to(device)
    eql_unchecked = EQLLoss(
        num_classes=c, lambda_=0.0011, class_freq=freq, check_inputs=False).to(device)
    ce = CrossEntropyLoss(use_sigmoid=False).to(device)
    losses = {
        'EQLLoss': (c, lambda z, y: eql(z, y, avg_factor=z.size(0))),
        'EQLLoss, check_inputs=False': (c, lambda z, y: eql_unchecked(z, y, avg_factor=z.size(0))),
    }
    mask = eql.tail_mask
    losses['EQL as weighted BCE (simple)'] = (c, lambda z, y: weighted_bce_eql(z, y, mask, c))
    if compiled:
        compiled_eql = torch.compile(lambda z, y: eql_unchecked(z, y, avg_factor=z.size(0)))
        compiled_wbce = torch.compile(lambda z, y: weighted_bce_eql(z, y, mask, c))
        losses['EQLLoss, check_inputs=False, torch.compile'] = (c, compiled_eql)
        losses['EQL as weighted BCE, torch.compile'] = (c, compiled_wbce)
    losses.update({
        'sigmoid BCE': (c, lambda z, y: plain_bce(z, y, c)),
        'softmax CE (mmdet)': (c + 1, lambda z, y: ce(z, y, avg_factor=z.size(0))),
    })
    return losses


def usable(losses: dict, c, device) -> dict:
    """The losses whose first step runs; a failure is printed (and its loss left out) so that
    one broken kernel does not cost the other figures."""
    out = {}
    for name, (width, fn) in losses.items():
        try:
            _step(fn, *_inputs(width, 8, c, device), device)
            out[name] = (width, fn)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            print(f'| {device.type} | - | {name} | failed: {type(e).__name__}: {e} | - | - |')
    return out


def _inputs(width, n, c, device):
    g = torch.Generator(device='cpu').manual_seed(0)
    base = torch.randn(n, width, generator=g).to(device)
    labels = torch.randint(0, c + 1, (n, ), generator=g).to(device)
    return base, labels


def _step(fn, base, labels, device) -> float:
    z = base.clone().requires_grad_()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn(z, labels).backward()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def memory(fn, width, n, c, device) -> float:
    """MiB: on CUDA the peak allocated during one step, on the CPU the bytes autograd saves."""
    base, labels = _inputs(width, n, c, device)
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    z = base.clone().requires_grad_()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start_mem = torch.cuda.memory_allocated()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = fn(z, labels)
    loss.backward()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - start_mem) / 2**20
    return saved[0] / 2**20


def measure_interleaved(losses: dict, n, c, device, rounds, block):
    """Median forward+backward time (ms) per loss, and the median over rounds of each loss's
    time divided by plain BCE's in the same round. Each round runs every loss ``block`` times in
    a row (its block median is the round's time), the losses taking turns round after round, so
    a slow spell of a shared machine hits all of them alike."""
    inputs = {name: _inputs(w, n, c, device) for name, (w, _) in losses.items()}
    times = {name: [] for name in losses}
    for name, (_, fn) in losses.items():  # warm-up
        for _ in range(3):
            _step(fn, *inputs[name], device)
    for _ in range(rounds):
        for name, (_, fn) in losses.items():
            times[name].append(
                statistics.median(_step(fn, *inputs[name], device) for _ in range(block)))
    return median_ratios(times, 'sigmoid BCE')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rois', type=int, nargs='+', default=[1024, 8192])
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--rounds', type=int, default=20, help='rounds of turns')
    parser.add_argument('--block', type=int, default=10, help='steps per loss in a round')
    parser.add_argument('--device', nargs='+', default=None, help='default: cpu, and cuda if any')
    parser.add_argument('--no-compile', action='store_true', help='leave out torch.compile')
    args = parser.parse_args(argv)
    for value, flag in ((args.rounds, '--rounds'), (args.block, '--block')):
        if value < 1:
            raise SystemExit(f'error: {flag} must be at least 1, got {value}')
    devices = args.device or (['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}')
    print('| device | N | loss | median fwd+bwd (ms) | median ratio to BCE, same round | '
          'memory (MiB) |')
    print('| --- | --- | --- | --- | --- | --- |')
    for dev in devices:
        device = torch.device(dev)
        losses = usable(
            make_losses(args.classes, device, not args.no_compile), args.classes, device)
        for n in args.rois:
            res = measure_interleaved(losses, n, args.classes, device, args.rounds, args.block)
            mem_kind = 'peak' if device.type == 'cuda' else 'saved for backward'
            for name, (ms, ratio) in res.items():
                mib = memory(losses[name][1], losses[name][0], n, args.classes, device)
                print(
                    f'| {dev} | {n} | {name} | {ms:.2f} | {ratio:.2f}x | '
                    f'{mib:.1f} ({mem_kind}) |',
                    flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
