"""Test (and evaluate) a detector: mmdet's ``tools/test.py`` entry point, with mmdet_eql loaded.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl] [--show]
                         [--show-dir DIR] [--tta] [--cfg-options k=v ...] [--launcher ...]
                         [--data-root DIR]

``--out preds.pkl`` keeps the predictions, which ``tools/analysis_tools/eval_lvis.py GT preds.pkl``
evaluates; LVIS results JSON: ``--cfg-options test_evaluator.outfile_prefix=PREFIX``.
"""
import argparse

from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config, ConfigDict
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmdet_eql  # noqa: F401  (registers the plugin, applies compat fixes)
from mmdet_eql.apis import common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory (under the work dir) to save painted images')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    common.add_common_args(parser)
    return common.parse(parser, argv)


def build_cfg(args) -> Config:
    cfg = common.load_config(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise RuntimeError('--show / --show-dir need a "visualization" default hook')
        hooks.visualization.draw = True
        if args.show:
            hooks.visualization.show = True
            hooks.visualization.wait_time = args.wait_time
        if args.show_dir:
            hooks.visualization.test_out_dir = args.show_dir
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError(f'--tta needs "tta_model" and "tta_pipeline" in {args.config}')
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        test_data_cfg.pipeline = cfg.tta_pipeline
    return cfg


def main(argv=None):
    args = parse_args(argv)
    setup_cache_size_limit_of_dynamo()
    cfg = build_cfg(args)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'error: --out {args.out!r}: the output file must be a .pkl file')
        # mmdet's DumpDetResults, each kept tensor copied out of the (RoIs x classes) storage it
        # is a view of: about 37 MB an image less on the CPU with 1203 classes
        from mmdet_eql.evaluation.metrics import CompactDumpDetResults
        runner.test_evaluator.metrics.append(CompactDumpDetResults(out_file_path=args.out))
    runner.test()
    common.shut_down_distributed()


if __name__ == '__main__':
    main()
