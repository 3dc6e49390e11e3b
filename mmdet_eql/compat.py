"""The documented fixes for upstream incompatibilities, applied when ``mmdet_eql`` is imported.

1. lvis-api 0.5.3 (its last release) calls ``np.float`` in ``LVISEval.accumulate``; numpy 1.24
   removed that alias, so every LVIS evaluation through it raises ``AttributeError``. Fix: the
   ``np`` name inside ``lvis.eval`` (that module only) is given a view of numpy that adds the old
   alias (``float``, what ``np.float`` always was). numpy itself is not touched.

2. mmengine 0.10.7 loads checkpoints with ``torch.load(f, map_location=...)``. torch >= 2.6 makes
   ``weights_only=True`` the default, and the unpickler then rejects what a Runner checkpoint
   holds besides tensors (mmengine's ``HistoryBuffer`` in the message hub, numpy scalars and
   arrays), so ``--resume`` and ``load_from`` of our own checkpoints fail with
   ``UnpicklingError: Weights only load failed``. Fix: the weights-only unpickler stays on, and
   exactly the types a Runner checkpoint of this project holds are added to its allow-list
   (:data:`CHECKPOINT_SAFE_GLOBALS`). A checkpoint holding anything else still fails to load.
   ``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``; rather
   than allowing ``builtins.getattr`` (a way to reach anything), that name is bound to
   :func:`_history_buffer_getattr`, which returns only HistoryBuffer's registered statistics.

3. mmengine 0.10.7's distributed launchers assume CUDA (``torch.cuda.set_device``, nccl). On a
   machine without CUDA only, its two launcher functions (``_init_dist_pytorch`` and
   ``_init_dist_slurm``, for which mmengine has no config key) are replaced by ones that start
   CPU processes with the gloo backend (:func:`enable_cpu_distributed`); with CUDA nothing
   changes. The DDP wrapper that accepts a CPU model is chosen by mmengine's own config key,
   ``model_wrapper_cfg`` (the benchmark's configs set it; tools/train.py and tools/test.py set it
   on such a machine when a config leaves it unset), not by a patch.

4. A checkpoint named by URL (the LVIS leaves' ImageNet files) that cannot be downloaded (no
   network) raised urllib's bare ``URLError`` from deep inside torch.hub, which does not say that
   a file copied into torch's hub cache is all it takes. mmengine's own extension point,
   ``CheckpointLoader.register_scheme``, replaces its http(s) loader by one that calls it and,
   when the download fails, raises an error naming the URL and the exact cache path to copy the
   file to (:func:`load_from_http_or_hub_cache`).
"""
import os.path as osp
import types

import numpy as np


class _NumpyWithRemovedAliases(types.ModuleType):
    """numpy as lvis-api 0.5.3 expects it: forwards everything, plus ``float``."""

    float = float

    def __getattr__(self, name):
        return getattr(np, name)


def patch_lvis_numpy_alias() -> bool:
    """Gives ``lvis.eval`` a numpy with the ``np.float`` alias. Returns True if patched."""
    if hasattr(np, 'float'):
        return False  # an old numpy still has the alias
    try:
        import lvis.eval as lvis_eval
    except ImportError:
        return False
    if not isinstance(lvis_eval.np, _NumpyWithRemovedAliases):
        lvis_eval.np = _NumpyWithRemovedAliases('numpy')
    return True


def _history_buffer_getattr(obj, name):
    """``getattr`` as a checkpoint may use it: only HistoryBuffer's statistics methods."""
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer

    # the four built-in statistics are registered lazily (on the first HistoryBuffer created)
    allowed = {'min', 'max', 'mean', 'current'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'checkpoint calls getattr({obj!r}, {name!r}); only '
                                 'HistoryBuffer statistics methods are allowed')


def _checkpoint_safe_globals() -> list:
    """The non-tensor types found in a Runner checkpoint of this project (measured by
    ``torch.serialization.get_unsafe_globals_in_checkpoint`` on a saved training run)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, np.dtype, np.ndarray, (_history_buffer_getattr, 'builtins.getattr')]
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy >= 2 moved them
        from numpy._core.multiarray import _reconstruct, scalar
    safe += [_reconstruct, scalar]
    # numpy >= 1.25 pickles dtypes through their classes (numpy.dtypes.Float64DType, ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return safe


CHECKPOINT_SAFE_GLOBALS: list = []


def allow_runner_checkpoints() -> bool:
    """Adds the Runner checkpoint types to torch's weights-only allow-list (torch >= 2.4)."""
    import torch
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    if not CHECKPOINT_SAFE_GLOBALS:
        CHECKPOINT_SAFE_GLOBALS.extend(_checkpoint_safe_globals())
        add(CHECKPOINT_SAFE_GLOBALS)
    return True


patch_lvis_numpy_alias()
allow_runner_checkpoints()


class CheckpointDownloadError(RuntimeError):
    """A checkpoint URL could not be downloaded and is not in torch's hub cache."""


def hub_cache_path(url: str) -> str:
    """Where torch.hub (and so mmengine) looks for the file of ``url`` before downloading it."""
    from urllib.parse import urlparse

    import torch
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


def load_from_http_or_hub_cache(filename, map_location=None, model_dir=None):
    """mmengine's http(s) checkpoint loader; a failed download says where the file must go."""
    from urllib.error import URLError

    from mmengine.runner.checkpoint import load_from_http
    try:
        return load_from_http(filename, map_location=map_location, model_dir=model_dir)
    except URLError as e:
        cache = osp.join(model_dir, osp.basename(hub_cache_path(filename))) if model_dir \
            else hub_cache_path(filename)
        raise CheckpointDownloadError(
            f'could not download the checkpoint {filename} ({e.reason}); without network, copy '
            f'the file to {cache} (torch\'s hub cache: $TORCH_HOME/hub/checkpoints/, by default '
            '~/.cache/torch/hub/checkpoints/), where it is read instead of downloaded '
            '(docs/train_test.md)') from e


def register_http_loader() -> None:
    """Makes :func:`load_from_http_or_hub_cache` mmengine's loader of http:// and https://."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http_or_hub_cache, force=True)


register_http_loader()


def enable_cpu_distributed() -> bool:
    """Without CUDA, mmengine's pytorch/slurm launchers run CPU processes with gloo (see
    :mod:`mmdet_eql.engine.model_wrappers.distributed`)."""
    from mmdet_eql.engine.model_wrappers.distributed import enable_cpu_distributed as enable
    return enable()
