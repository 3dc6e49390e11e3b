"""Puts the repository on sys.path, so tools/ run without an install (cluster scripts)."""
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


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


def parse(parser, argv=None):
    """Parses the arguments and exports LOCAL_RANK, as mmdet's entry points do."""
    import os
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args):
    """The config with the launcher, --cfg-options and the work dir (CLI > config > default)."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
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
