from .distributed import (DeviceAwareDistributedDataParallel, cpu_model_wrapper_cfg,
                          enable_cpu_distributed)

__all__ = ['DeviceAwareDistributedDataParallel', 'cpu_model_wrapper_cfg', 'enable_cpu_distributed']
