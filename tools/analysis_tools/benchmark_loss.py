"""Forward + backward time and memory of EQLLoss against plain sigmoid BCE and softmax CE.

    python tools/analysis_tools/benchmark_loss.py [--rois 1024 8192] [--classes 1203]

At LVIS shapes (C = 1203 classes), for N RoIs: median time of forward+backward over repeats, and
memory: on CUDA the peak allocated during the step, on the CPU the bytes autograd saves for the
backward pass (torch has no CPU peak counter). Prints a table with the ratio to plain BCE.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mmdet_eql.models.losses import EQLLoss  # noqa: E402


def plain_bce(logits, labels, c):
    """Sigmoid BCE over C foreground logits, one-hot targets, summed over classes / N."""
    target = F.one_hot(labels, c + 1)[:, :c].to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, reduction='sum') / logits.size(0)


def make_losses(c, device):
    from mmdet.models.losses import CrossEntropyLoss
    freq = torch.linspace(1e-5, 0.3, c).tolist()
    eql = EQLLoss(num_classes=c, lambda_=0.0011, class_freq=freq).to(device)
    eql_unchecked = EQLLoss(
        num_classes=c, lambda_=0.0011, class_freq=freq, check_inputs=False).to(device)
    ce = CrossEntropyLoss(use_sigmoid=False).to(device)
    return {
        'EQLLoss': (c, lambda z, y: eql(z, y, avg_factor=z.size(0))),
        'EQLLoss, check_inputs=False': (c, lambda z, y: eql_unchecked(z, y, avg_factor=z.size(0))),
        'sigmoid BCE': (c, lambda z, y: plain_bce(z, y, c)),
        'softmax CE (mmdet)': (c + 1, lambda z, y: ce(z, y, avg_factor=z.size(0))),
    }


def measure(fn, width, n, c, device, repeats):
    g = torch.Generator(device='cpu').manual_seed(0)
    base = torch.randn(n, width, generator=g).to(device)
    labels = torch.randint(0, c + 1, (n, ), generator=g).to(device)
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    times = []
    for i in range(repeats + 3):
        z = base.clone().requires_grad_()
        if device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start_mem = torch.cuda.memory_allocated()
        saved[0] = 0
        t0 = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = fn(z, labels)
        loss.backward()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        if i >= 3:  # warm-up
            times.append(time.perf_counter() - t0)
    mem = (torch.cuda.max_memory_allocated() - start_mem) if device.type == 'cuda' else saved[0]
    return statistics.median(times) * 1e3, mem / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rois', type=int, nargs='+', default=[1024, 8192])
    parser.add_argument('--classes', type=int, default=1203)
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--device', nargs='+', default=None, help='default: cpu, and cuda if any')
    args = parser.parse_args(argv)
    devices = args.device or (['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}')
    print('| device | N | loss | median fwd+bwd (ms) | ratio to BCE | memory (MiB) |')
    print('| --- | --- | --- | --- | --- | --- |')
    for dev in devices:
        device = torch.device(dev)
        losses = make_losses(args.classes, device)
        for n in args.rois:
            res = {
                name: measure(fn, w, n, args.classes, device, args.repeats)
                for name, (w, fn) in losses.items()
            }
            base = res['sigmoid BCE'][0]
            mem_kind = 'peak' if device.type == 'cuda' else 'saved for backward'
            for name, (ms, mib) in res.items():
                print(
                    f'| {dev} | {n} | {name} | {ms:.2f} | {ms / base:.2f}x | '
                    f'{mib:.1f} ({mem_kind}) |',
                    flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
