"""Distributed training on machines without CUDA: CPU processes with the gloo backend.

mmengine 0.10.7 assumes CUDA on its distributed paths: ``init_dist`` calls
``torch.cuda.set_device`` (an AttributeError with a CPU build of torch) and uses the config's
backend (nccl by default, which needs GPUs), and the runner wraps the model with
``device_ids=[LOCAL_RANK]``, which torch's DDP refuses for a CPU module. On a machine without
CUDA:

* the model wrapper is chosen by a config key mmengine has for it:
  ``model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel', ...)``, which gives DDP
  ``device_ids=None`` for a CPU module and is mmengine's wrapper otherwise. The benchmark's
  configs set it; ``tools/train.py`` and ``tools/test.py`` set it on a machine without CUDA when
  a multi-process config leaves it unset or names mmengine's wrapper
  (:func:`cpu_model_wrapper_cfg`), so any LVIS leaf runs with ``tools/dist_train.sh`` there;
* the process-group initialisation has no config key, so :func:`enable_cpu_distributed` (applied
  when mmdet_eql is imported, on a machine without CUDA only) replaces mmengine's two launcher
  functions: gloo instead of nccl, the same environment variables (torchrun's RANK / WORLD_SIZE /
  MASTER_ADDR / MASTER_PORT, or Slurm's SLURM_PROCID / SLURM_NTASKS / SLURM_NODELIST /
  SLURM_LOCALID). With CUDA nothing is changed.
"""
import inspect
import os
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

#: the name torch gives the flag that syncs buffers in every forward: ``forward_sync_buffers``
#: since torch 2.13 (``broadcast_buffers`` is deprecated there and warns), else
#: ``broadcast_buffers``
BUFFER_SYNC_FLAG = ('forward_sync_buffers' if 'forward_sync_buffers' in inspect.signature(
    DistributedDataParallel.__init__).parameters else 'broadcast_buffers')


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` that also wraps a model on the CPU (then
    ``device_ids=None``, what torch's DDP expects there); otherwise mmengine's wrapper.

    Buffers are not re-synced in every forward unless a config asks (mmengine's own default,
    ``broadcast_buffers=False``), under the flag's current name (:data:`BUFFER_SYNC_FLAG`), so
    torch 2.13 does not warn of the deprecated one."""

    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs):
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        if 'broadcast_buffers' not in kwargs and 'forward_sync_buffers' not in kwargs:
            kwargs[BUFFER_SYNC_FLAG] = False
        super().__init__(module, detect_anomalous_params=detect_anomalous_params, **kwargs)


def cpu_model_wrapper_cfg(cfg, cuda_available=None) -> bool:
    """On a machine without CUDA, a multi-process ``cfg`` (launcher other than 'none') whose
    ``model_wrapper_cfg`` is unset or names mmengine's ``MMDistributedDataParallel`` gets
    :class:`DeviceAwareDistributedDataParallel` (the same wrapper, which accepts a CPU module);
    mmengine would give torch's DDP ``device_ids=[LOCAL_RANK]`` and fail. Said in the log.

    Returns:
        bool: whether the config was changed.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available or cfg.get('launcher', 'none') == 'none':
        return False
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='DeviceAwareDistributedDataParallel',
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper.type = 'DeviceAwareDistributedDataParallel'
    else:
        return False
    print_log(
        'mmdet_eql: no CUDA on this machine: model_wrapper_cfg type '
        'DeviceAwareDistributedDataParallel (mmengine\'s DDP wrapper, for a CPU model)',
        logger='current')
    return True


def _cpu_backend(backend: str) -> str:
    if backend == 'nccl':
        print_log(
            'mmdet_eql: no CUDA on this machine: the gloo backend instead of nccl',
            logger='current')
        return 'gloo'
    return backend


def init_dist_pytorch_cpu(backend: str = 'gloo', init_backend: str = 'torch', **kwargs) -> None:
    """torchrun / dist_train.sh launch on CPU processes (RANK, WORLD_SIZE, MASTER_* from env)."""
    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} needs CUDA; on the CPU only torch works')
    torch_dist.init_process_group(
        backend=_cpu_backend(backend),
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def init_dist_slurm_cpu(backend: str = 'gloo',
                        port=None,
                        init_backend: str = 'torch',
                        **kwargs) -> None:
    """srun / slurm_train.sh launch on CPU processes: mmengine's Slurm environment, no CUDA."""
    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} needs CUDA; on the CPU only torch works')
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1').strip()
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ['RANK'] = str(proc_id)
    torch_dist.init_process_group(
        backend=_cpu_backend(backend), rank=proc_id, world_size=ntasks, **kwargs)


def enable_cpu_distributed(cuda_available=None) -> bool:
    """On a machine without CUDA, lets mmengine's launchers run CPU processes (see module doc).

    Returns:
        bool: whether anything was patched (False with CUDA).
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return False
    import mmengine.dist.utils as dist_utils

    # mmengine 0.10.7 has no config key for these: init_dist(launcher) calls them by name
    dist_utils._init_dist_pytorch = init_dist_pytorch_cpu
    dist_utils._init_dist_slurm = init_dist_slurm_cpu
    return True
