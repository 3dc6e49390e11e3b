"""Train a detector: mmdet's ``tools/train.py`` entry point, with the mmdet_eql plugin loaded.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
                                 [--data-root DIR] [--max-iters N]

A smoke run of any leaf on one's own data: ``--data-root DIR`` points every dataset (inside
ClassBalancedDataset too) and evaluator at DIR, ``--max-iters N`` trains N iterations, then
validates and saves ``iter_N.pth`` once (docs/train_test.md).
"""
import argparse
import sys

from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmdet_eql  # noqa: F401  (registers the plugin, applies compat fixes)
from mmdet_eql.apis import common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='enable automatic-mixed-precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; with no value, from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--max-iters',
        type=int,
        help='train this many iterations (an iteration-based loop in place of the epochs), '
        'then validate and save a checkpoint once: a smoke run of any leaf')
    common.add_common_args(parser)
    args = common.parse(parser, argv)
    if args.max_iters is not None and args.max_iters < 1:
        parser.error(f'--max-iters must be a positive integer, got {args.max_iters}')
    return args


def build_cfg(args) -> Config:
    cfg = common.load_config(args)
    from mmdet_eql.utils.run_config import project_hooks_warning, torchvision_error
    error = torchvision_error(cfg, args.config)  # before the Runner: it would fail at init
    if error:
        raise SystemExit(f'error: {error}')
    warning = project_hooks_warning(cfg, args.config)
    if warning:  # on stderr: the Runner's logger does not exist yet
        print(f'warning: {warning}', file=sys.stderr)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit(
                'error: --amp: mmengine trains with mixed precision (AmpOptimWrapper) on CUDA '
                '(and NPU, MLU, MUSA) devices only, and this machine has none; train without '
                '--amp here. (The losses themselves accept float16 / bfloat16 logits, tested on '
                'the CPU under bfloat16 autocast of the loss alone; docs/train_test.md)')
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('--auto-scale-lr needs "auto_scale_lr" with "enable" and '
                               f'"base_batch_size" in the config {args.config}')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    setup_cache_size_limit_of_dynamo()
    cfg = build_cfg(args)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()
    common.shut_down_distributed()


if __name__ == '__main__':
    main()
