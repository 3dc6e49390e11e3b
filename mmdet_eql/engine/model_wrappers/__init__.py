from .distributed import DeviceAwareDistributedDataParallel, enable_cpu_distributed

__all__ = ['DeviceAwareDistributedDataParallel', 'enable_cpu_distributed']
