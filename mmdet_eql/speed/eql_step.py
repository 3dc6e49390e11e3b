"""Time of a whole training step of the benchmark model with each EQL implementation.

    python tools/speed/eql_step.py [--steps 20] [--rounds 3] [--device cpu]

The embedded benchmark's Mask R-CNN (configs/benchmark/, small preset data in
data/longtail_small/, batch 8, 64 RoIs per image, 64 classes; generated when missing) with the
same weights and the same batches, one forward + backward + SGD step per iteration, for:

- plain sigmoid BCE in the head (one-hot targets over the C foreground classes; the baseline of
  the ratio column);
- the like-for-like sigmoid config (``EQLLoss`` with lambda = 0);
- EQL (lambda over rare + common) as ``EQLLoss`` runs it (its analytic autograd Function);
- EQL as plain BCE with a per-element weight built in the call (the simple candidate);
- with ``--compile``: ``torch.compile`` of ``EQLLoss`` (input check off) and of the simple
  candidate.

The variants take turns, ``--steps`` steps each per round; each round's median per variant is
compared with plain BCE's in the same round, and the median over rounds is printed.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time

import torch

from mmdet_eql.utils.paths import REPO_ROOT as ROOT

CONFIGS = osp.join(ROOT, 'configs', 'benchmark')


def simple_eql_forward(loss_module):
    """A forward for an ``EQLLoss`` that computes EQL as weighted BCE (the simple candidate of
    mmdet_eql.speed.loss), with mmdet's RoI weights, ``avg_factor`` and reduction."""
    from mmdet.models.losses.utils import weight_reduce_loss

    from mmdet_eql.speed.loss import weighted_bce_eql_per_roi

    def forward(cls_score, label, weight=None, avg_factor=None, reduction_override=None, **kw):
        loss = weighted_bce_eql_per_roi(cls_score, label, loss_module.tail_mask,
                                        loss_module.num_classes)
        loss = weight_reduce_loss(
            loss, weight=weight, reduction=reduction_override or 'mean', avg_factor=avg_factor)
        return loss_module.loss_weight * loss

    return forward


def plain_bce_forward(loss_module):
    """A forward that computes plain sigmoid BCE (no EQL weight) with mmdet's RoI weights,
    ``avg_factor`` and reduction: the baseline of the ratio column."""
    from mmdet.models.losses.utils import weight_reduce_loss

    def forward(cls_score, label, weight=None, avg_factor=None, reduction_override=None, **kw):
        c = loss_module.num_classes
        target = torch.nn.functional.one_hot(label, c + 1)[:, :c].to(cls_score.dtype)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            cls_score, target, reduction='none').sum(1)
        loss = weight_reduce_loss(
            loss, weight=weight, reduction=reduction_override or 'mean', avg_factor=avg_factor)
        return loss_module.loss_weight * loss

    return forward


def compiled_forward(forward):
    """``torch.compile`` of a loss forward (its keyword arguments passed through)."""
    compiled = torch.compile(forward)

    def call(*args, **kwargs):
        return compiled(*args, **kwargs)

    return call


def build(config, data_root, device):
    import os

    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.runner import Runner
    os.environ['LONGTAIL_DATA_ROOT'] = data_root
    register_all_modules()
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    model = MODELS.build(cfg.model).to(device)
    model.init_weights()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    return model, loader


def measure(variants, batches, steps, rounds, device):
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, model in variants.items():
            opt = torch.optim.SGD(model.parameters(), lr=1e-4)
            ts = []
            for k in range(steps):
                data = model.data_preprocessor(batches[k % len(batches)], True)
                if device.type == 'cuda':
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                losses = model(**data, mode='loss')
                loss, _ = model.parse_losses(losses)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if device.type == 'cuda':
                    torch.cuda.synchronize()
                ts.append(time.perf_counter() - t0)
            times[name].append(statistics.median(ts[1:]))
    from mmdet_eql.speed.loss import median_ratios
    return median_ratios(times, 'plain sigmoid BCE')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--steps', type=int, default=20, help='steps per variant in a round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batches', type=int, default=4, help='distinct batches cycled through')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'longtail_small/'))
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--compile', action='store_true', help='add torch.compile of the eager and simple losses')
    args = parser.parse_args(argv)
    if not osp.isfile(osp.join(args.data_root, 'annotations', 'class_freq.json')):
        import subprocess
        subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools', 'benchmark', 'make_dataset.py'), args.data_root, '--preset',
            'small', '--quiet'
        ],
                       check=True)
    device = torch.device(args.device)
    torch.manual_seed(0)
    base, loader = build('mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py', args.data_root,
                         device)
    torch.manual_seed(0)
    eql, _ = build('mask-rcnn_r18-half_fpn_eql_random_longtail.py', args.data_root, device)
    eql.load_state_dict(base.state_dict())

    def variant(model, make_forward=None, **attrs):
        """A copy of ``model`` whose box-head classification loss gets ``attrs`` and, given
        ``make_forward``, the forward it makes from the loss module."""
        out = copy.deepcopy(model)
        loss = out.roi_head.bbox_head.loss_cls
        for key, value in attrs.items():
            setattr(loss, key, value)
        if make_forward is not None:
            loss.forward = make_forward(loss)
        return out

    def eager_forward(loss):
        return type(loss).forward.__get__(loss)

    batches = []
    for data in loader:
        batches.append(data)
        if len(batches) == args.batches:
            break
    variants = {
        'plain sigmoid BCE': variant(base, plain_bce_forward),
        'sigmoid config (EQLLoss, lambda = 0)': base,
        'EQL, EQLLoss as it runs': eql,
    }
    variants['EQL as weighted BCE (simple)'] = variant(eql, simple_eql_forward)
    if args.compile:
        variants['EQL, EQLLoss, check_inputs=False, torch.compile'] = variant(
            eql, lambda loss: compiled_forward(eager_forward(loss)), check_inputs=False)
        variants['EQL as weighted BCE, torch.compile'] = variant(
            eql, lambda loss: compiled_forward(simple_eql_forward(loss)))
    res = measure(variants, batches, args.steps, args.rounds, device)
    print(f'torch {torch.__version__}, {device}, threads {torch.get_num_threads()}, '
          f'{args.rounds} rounds x {args.steps} steps, batch 8')
    print('| training step | median (ms) | median ratio to plain sigmoid BCE, same round |')
    print('| --- | --- | --- |')
    for name, (ms, ratio) in res.items():
        print(f'| {name} | {ms:.1f} | {ratio:.3f}x |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
