"""Pointing a config at a data root and shortening its schedule, by key, for a smoke run of any
leaf (``tools/train.py --data-root DIR --max-iters N``, ``tools/test.py --data-root DIR``).

Datasets are found by key, not position: a wrapper (mmdet's ``ClassBalancedDataset``, the RFS of
the ``sample1e-3`` leaves) is followed down to the dataset that has ``ann_file``.
"""
import os.path as osp
from typing import Iterator, Optional, Tuple

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = (('val_evaluator', 'val_dataloader'), ('test_evaluator', 'test_dataloader'))


def inner_dataset(loader_cfg):
    """The dataset config of a dataloader config, inside any wrapper datasets."""
    ds = loader_cfg.dataset
    while 'dataset' in ds and 'ann_file' not in ds:  # e.g. ClassBalancedDataset
        ds = ds.dataset
    return ds


def _evaluators(cfg, key) -> Iterator:
    ev = cfg.get(key)
    if ev is None:
        return iter(())
    return iter(ev if isinstance(ev, (list, tuple)) else [ev])


def set_data_root(cfg, data_root: str) -> Tuple[str, ...]:
    """Points every dataloader's dataset (inside wrappers) at ``data_root`` and every evaluator
    that reads an annotation file at its dataloader's file under ``data_root``.

    Raises:
        FileNotFoundError: ``data_root`` or an annotation file a dataset needs is missing (the
            message names the dataloader and the path).

    Returns:
        tuple: the annotation files the config now reads.
    """
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'--data-root {data_root!r} is not a directory')
    data_root = osp.join(data_root, '')  # mmdet joins data_root + ann_file
    files = []
    for loader in LOADERS:
        if cfg.get(loader) is None:
            continue
        ds = inner_dataset(cfg[loader])
        ds.data_root = data_root
        ann = osp.join(data_root, ds.ann_file)
        if not osp.isfile(ann):
            raise FileNotFoundError(f'{loader}: the annotation file {ds.ann_file!r} is not under '
                                    f'--data-root {data_root!r} (expected {ann})')
        files.append(ann)
    for ev_key, loader in EVALUATORS:
        for ev in _evaluators(cfg, ev_key):
            if 'ann_file' in ev and cfg.get(loader) is not None:
                ev.ann_file = osp.join(data_root, inner_dataset(cfg[loader]).ann_file)
    # other files under the leaf's own data root (the Open Images leaves' class_freq), moved too
    old = cfg.get('data_root')
    if isinstance(old, str) and old:
        old = osp.join(old, '')

        def move(node):
            for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
                if isinstance(v, str) and v.startswith(old):
                    node[k] = data_root + v[len(old):]
                elif isinstance(v, (dict, list)):
                    move(v)

        for key in ('model', 'val_evaluator', 'test_evaluator'):
            if isinstance(cfg.get(key), (dict, list)):
                move(cfg[key])
        cfg.data_root = data_root
    return tuple(files)


def set_max_iters(cfg, max_iters: int) -> None:
    """Trains ``max_iters`` iterations, then validates and saves a checkpoint once: an
    iteration-based loop (``IterBasedTrainLoop``) in place of the leaf's epochs, checkpoints and
    logs counted in iterations, about 20 log lines over the run (every iteration up to 20
    iterations; never less often than the leaf logs). The learning rate schedule is the leaf's
    (its warm-up counts iterations; epoch milestones are not reached)."""
    if not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f'--max-iters must be a positive integer, got {max_iters!r}')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
    hooks = cfg.get('default_hooks', {})
    if 'checkpoint' in hooks:
        hooks.checkpoint.by_epoch = False
        hooks.checkpoint.interval = max_iters
    if 'logger' in hooks:
        hooks.logger.interval = min(hooks.logger.get('interval', 50), max(1, max_iters // 20))
    cfg.log_processor = dict(cfg.get('log_processor', {}), by_epoch=False)


def portable_text(cfg, paths: dict) -> str:
    """The config's text with each absolute path in ``paths`` ({path: name}) written as ``$name``,
    replaced in the config's values before the text is laid out: the text (and a digest of it)
    is the same wherever the files lie, however long their paths are."""
    from mmengine.config import Config

    def sub(value):
        if isinstance(value, str):
            for path, name in paths.items():
                value = value.replace(path, f'${name}')
            return value
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(sub(v) for v in value)
        return value

    return Config(sub(cfg.to_dict())).pretty_text


def definition_differences(old: dict, new: dict, words: Optional[dict] = None) -> str:
    """What differs between two recorded definitions of a run, in words, for a refusal: each
    key of ``new`` whose value differs, as ``key (old -> new)``, or as ``words[key]`` for values
    that say nothing when printed (digests: 'the resolved config')."""
    words = dict(resolved_config='the resolved config', **(words or {}))
    out = [
        words.get(k) or f'{k} ({old.get(k)!r} -> {new.get(k)!r})' for k in new
        if old.get(k) != new.get(k)
    ]
    return ', '.join(out) or 'nothing listed'


_ENV_LOCK = __import__('threading').Lock()


def config_from_env(path: str, env: dict):
    """``Config.fromfile(path)`` with the environment variables ``env`` set while it is read (the
    ``{{$NAME:default}}`` values of the benchmark's configs), the environment restored after; one
    config at a time when threads read them (the runners' parallel runs)."""
    import os

    from mmengine.config import Config
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update({k: str(v) for k, v in env.items()})
        try:
            return Config.fromfile(path)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


#: the hooks the project's leaves list in ``custom_hooks``, and what each is for
PROJECT_HOOKS = {
    'ClassFreqCheckHook': 'stops a run whose class frequencies name other classes than the data',
    'RNGStateHook': "keeps torch's generator state in checkpoints, so a resumed run is exact",
}


def _holds_class_freq(node) -> bool:
    if isinstance(node, dict):
        return node.get('class_freq') is not None or any(
            _holds_class_freq(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return any(_holds_class_freq(v) for v in node)
    return False


def missing_project_hooks(cfg) -> list:
    """The project's hooks (:data:`PROJECT_HOOKS`) that a config importing mmdet_eql does not list
    in ``custom_hooks``: RNGStateHook always, ClassFreqCheckHook when the model holds class
    frequencies. mmengine replaces a parent's ``custom_hooks`` list with a child's, so a child
    that adds one hook drops the parent's unless it lists them again."""
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    if 'mmdet_eql' not in imports:
        return []
    have = {h.get('type') for h in cfg.get('custom_hooks', None) or []}
    want = (['ClassFreqCheckHook'] if _holds_class_freq(cfg.get('model', {})) else []) + \
        ['RNGStateHook']
    return [h for h in want if h not in have]


def project_hooks_warning(cfg, where: str) -> Optional[str]:
    """The warning for :func:`missing_project_hooks`, naming the list to write; None when none
    is missing."""
    missing = missing_project_hooks(cfg)
    if not missing:
        return None
    have = [h.get('type') for h in cfg.get('custom_hooks', None) or []]
    keep = [h for h in PROJECT_HOOKS if h in missing or h in have] + \
        [h for h in have if h not in PROJECT_HOOKS]
    listed = ', '.join(f"dict(type='{h}')" for h in keep)
    what = '; '.join(f'{h} {PROJECT_HOOKS[h]}' for h in missing)
    return (f'{where}: custom_hooks lacks {", ".join(missing)} ({what}). A child config\'s '
            'custom_hooks replaces its parent\'s whole list, so a child that adds a hook must list '
            f'the parent\'s again: custom_hooks = [{listed}]')


#: torchvision's IMAGENET1K_V1 ResNets by URL: what ``torchvision://resnet50`` names, without
#: importing torchvision (the LVIS leaves name them so)
TORCHVISION_URLS = {
    'resnet50': 'https://download.pytorch.org/models/resnet50-0676ba61.pth',
    'resnet101': 'https://download.pytorch.org/models/resnet101-63fe2227.pth',
}


def torchvision_checkpoints(node, where: str = '') -> list:
    """(key, value) of every ``torchvision://`` checkpoint a config names (mmengine resolves them
    by importing torchvision)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += torchvision_checkpoints(v, f'{where}.{k}' if where else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            out += torchvision_checkpoints(v, f'{where}[{i}]')
    elif isinstance(node, str) and node.startswith('torchvision://'):
        out.append((where, node))
    return out


def torchvision_error(cfg, where: str) -> Optional[str]:
    """The error for a config that names ``torchvision://`` weights on a machine where torchvision
    does not import (it is not installed, or its build does not load beside this torch), with the
    URL to name instead; None when there is none or torchvision imports."""
    found = torchvision_checkpoints(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)
    if not found:
        return None
    try:
        import torchvision  # noqa: F401
        return None
    except Exception as e:  # ModuleNotFoundError, or a build that does not load (OSError, ...)
        why = f'{type(e).__name__}: {e}'
    key, value = found[0]
    name = value[len('torchvision://'):]
    url = TORCHVISION_URLS.get(name)
    fix = (f"name the same weights by URL: --cfg-options {key}={url} (or in the config, as the "
           'LVIS leaves of configs/ do; mmengine downloads the file once into '
           '$TORCH_HOME/hub/checkpoints/, where it can also be put by hand)'
           if url else f'name the weights by URL or a local file in {key}')
    return (f'{where}: {key} = {value!r} needs torchvision, which does not import here ({why}); '
            f'{fix}')
