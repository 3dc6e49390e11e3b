"""What ``tools/train.py`` and ``tools/test.py`` share: their common flags, the config as they
resolve it, and the distributed shutdown."""
import os.path as osp


def add_common_args(parser) -> None:
    """The flags tools/train.py and tools/test.py share with mmdet's entry points."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs (xxx=yyy)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--data-root',
        help='point every dataset of the config (inside wrappers such as ClassBalancedDataset) '
        'and every evaluator at this directory, which holds the files the config names (e.g. '
        'annotations/lvis_v1_train.json)')


def parse(parser, argv=None):
    """Parses the arguments and exports LOCAL_RANK, as mmdet's entry points do."""
    import os
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args):
    """The config with the launcher, --data-root, --max-iters, --cfg-options (applied last) and
    the work dir (CLI > config > default); on a machine without CUDA, a multi-process run gets
    the DDP wrapper that takes a CPU model."""
    from mmengine.config import Config

    from mmdet_eql.engine.model_wrappers import cpu_model_wrapper_cfg
    from mmdet_eql.utils.run_config import set_data_root, set_max_iters
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    try:
        if getattr(args, 'data_root', None):
            set_data_root(cfg, args.data_root)
        if getattr(args, 'max_iters', None) is not None:
            set_max_iters(cfg, args.max_iters)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {args.config}: {e}') from None
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cpu_model_wrapper_cfg(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def shut_down_distributed() -> None:
    """Destroys the process group, if any, before the interpreter exits: a gloo group left to the
    interpreter's teardown occasionally aborted a rank after a finished run ("terminate called
    without an active exception", seen about once in five 2-process runs on the CPU)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
