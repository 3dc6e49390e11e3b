"""Pre-train the embedded benchmark's backbone: its stand-in for ImageNet, made once and cached.

    python tools/benchmark/pretrain_backbone.py [--out-dir data/longtail_pretrain]

1. makes the balanced pre-training set in OUT_DIR/set/ (tools/benchmark/make_cls_dataset.py
   --looks pretrain --imbalance 1 --size 64: 64 looks, none of them a benchmark class's shape or
   hue; skipped when the folder holds that set);
2. trains configs/benchmark/pretrain/resnet18-half_shapes64_pretrain.py (the detector's ResNet-18
   at half width and a linear classifier) through tools/train.py, its log in OUT_DIR/work/;
3. writes OUT_DIR/backbone.pth (``state_dict`` with the classifier's ``backbone.`` keys, as an
   mmpretrain checkpoint has them; loaded with ``init_cfg=dict(type='Pretrained', checkpoint=...,
   prefix='backbone.')``) and OUT_DIR/pretrain.json: its definition (the set's arguments and
   fingerprint, the resolved config's digest, the seed), the checkpoint's sha256, the val top-1
   and the time it took.

A checkpoint that is there is used only when it is what this script would make now: a record of
another definition (other arguments, an edited config or generator), a set or checkpoint changed
since (the checkpoint's sha256, the set's content), or a checkpoint without a record is refused
with what differs, never silently used; ``--retrain`` makes it again in place. A set folder deleted
after the pre-training is made again from the record's options and must match its content.
tools/benchmark/run.py --regime pretrained calls this first (``ensure_pretrained``) and
checks that the checkpoint fits the detector's backbone key by key (``check_backbone``).
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import shutil
import sys
import time
from typing import Dict, Optional

from mmdet_eql.benchmark.runs import launch
from mmdet_eql.utils import sha256_files
from mmdet_eql.utils.paths import REPO_ROOT, repo_path
from mmdet_eql.utils.run_config import definition_differences

CONFIG = repo_path('configs', 'benchmark', 'pretrain', 'resnet18-half_shapes64_pretrain.py')
DEFAULT_DIR = osp.join('data', 'longtail_pretrain')
#: the set and schedule of docs/benchmark/steep-pretrained.md ("Decided before any detection
#: run"), chosen by its cost and the pre-training's own val accuracy, before any detection run
DEFAULTS = dict(images_per_class=200, val_per_class=20, epochs=8, seed=0)
SIZE = 64


def set_fingerprint(set_dir: str) -> str:
    """sha256 of the set's content: each array of train.npz and val.npz (its name, dtype, shape
    and bytes) and class_freq.json. Not of the .npz files' bytes, which are the arrays as one
    zlib compressed them: the same set made again from the record's options by another zlib or
    numpy (another machine, the folder deleted to save its 49 MB) is the same content."""
    import numpy as np
    h = hashlib.sha256()
    for name in ('train.npz', 'val.npz'):
        with np.load(osp.join(set_dir, name)) as arrays:
            for key in sorted(arrays.files):
                a = np.ascontiguousarray(arrays[key])
                h.update(f'{name}:{key}:{a.dtype.str}:{a.shape}'.encode())
                h.update(memoryview(a).cast('B'))
    h.update(sha256_files(osp.join(set_dir, 'class_freq.json')).encode())
    return h.hexdigest()


def set_arguments(opts: Dict[str, int]) -> dict:
    """The generator's arguments for these options (info.json's fields)."""
    return dict(
        imbalance=1,
        max_count=opts['images_per_class'],
        val_per_class=opts['val_per_class'],
        seed=opts['seed'],
        looks='pretrain',
        size=SIZE)


def resolved_config(set_dir: str, epochs: int, seed: int):
    from mmdet_eql.utils.run_config import config_from_env
    cfg = config_from_env(
        CONFIG,
        dict(
            LONGTAIL_PRETRAIN_DATA_ROOT=osp.abspath(set_dir).rstrip('/') + '/',
            LONGTAIL_PRETRAIN_EPOCHS=str(epochs)))
    cfg.merge_from_dict({'randomness.seed': seed})
    return cfg


def config_digest(cfg, set_dir: str) -> str:
    """sha256 of the resolved config with the set's absolute path written as a variable, so
    that the same pre-training in another checkout has the same digest."""
    from mmdet_eql.utils.run_config import portable_text
    text = portable_text(cfg, {osp.abspath(set_dir).rstrip('/'): 'LONGTAIL_PRETRAIN_DATA_ROOT'})
    return hashlib.sha256(text.encode()).hexdigest()


def definition(out_dir: str, opts: Dict[str, int]) -> dict:
    set_dir = osp.join(out_dir, 'set')
    cfg = resolved_config(set_dir, opts['epochs'], opts['seed'])
    return dict(
        config=osp.relpath(CONFIG, REPO_ROOT),
        set=set_arguments(opts),
        epochs=opts['epochs'],
        seed=opts['seed'],
        resolved_config=config_digest(cfg, set_dir))


class StalePretrained(SystemExit):
    """A checkpoint (or set) that is there but is not what the run asks for."""


def ensure_set(out_dir: str, opts: Dict[str, int], retrain: bool, progress: bool = True) -> str:
    """The pre-training set in OUT_DIR/set/, made unless that folder holds exactly it."""
    set_dir = osp.join(out_dir, 'set')
    want = set_arguments(opts)
    info_file = osp.join(set_dir, 'info.json')
    if osp.isfile(info_file):
        with open(info_file) as f:
            info = json.load(f)
        have = {k: info.get(k) for k in want}
        if have == want:
            return set_dir
        if not retrain:
            raise StalePretrained(f'error: {set_dir} holds another pre-training set (differs in: '
                                  f'{definition_differences(have, want)}); pass --retrain to make '
                                  'it again there, or another --out-dir')
    if osp.isdir(set_dir):
        shutil.rmtree(set_dir)
    from mmdet_eql.benchmark.synthetic.classification import make_set
    make_set(
        set_dir,
        imbalance=1,
        max_count=opts['images_per_class'],
        val_per_class=opts['val_per_class'],
        seed=opts['seed'],
        progress=progress,
        looks='pretrain',
        size=SIZE)
    return set_dir


def recorded_definition(out_dir: str) -> Optional[dict]:
    """The definition in OUT_DIR/pretrain.json, None without a readable record."""
    try:
        with open(osp.join(out_dir, 'pretrain.json')) as f:
            return json.load(f).get('definition')
    except (OSError, ValueError, AttributeError):
        return None


def check_record(out_dir: str, want: dict) -> Optional[dict]:
    """The record of the checkpoint in ``out_dir`` when it is exactly ``want`` and unchanged;
    None when there is none; StalePretrained otherwise."""
    record_file = osp.join(out_dir, 'pretrain.json')
    ckpt = osp.join(out_dir, 'backbone.pth')
    if not osp.isfile(record_file):
        if osp.isfile(ckpt):
            raise StalePretrained(
                f'error: {ckpt} has no record of how it was made ({record_file}); '
                'pass --retrain to make it again, or another --out-dir')
        return None
    with open(record_file) as f:
        record = json.load(f)
    if record.get('definition') != want:
        differs = definition_differences(record.get('definition', {}), want)
        raise StalePretrained(f'error: {ckpt} was pre-trained under another definition (differs '
                              f'in: {differs}); pass --retrain to make it again, or another '
                              '--out-dir')
    if not osp.isfile(ckpt) or sha256_files(ckpt) != record.get('checkpoint_sha256'):
        raise StalePretrained(f'error: {ckpt} is missing or changed since it was made (its sha256 '
                              f'differs from {record_file}); pass --retrain to make it again')
    set_dir = osp.join(out_dir, 'set')
    content = set_fingerprint(set_dir)
    if content != record.get('set_fingerprint'):
        if record.get('set_fingerprint') != legacy_set_fingerprint(set_dir):
            raise StalePretrained(f'error: the pre-training set {set_dir} changed since {ckpt} was '
                                  'made on it; pass --retrain to make both again')
        # a record made before the set was fingerprinted by content, of these very files: the
        # record now holds their content's fingerprint
        record['set_fingerprint'] = content
        with open(record_file, 'w') as f:
            json.dump(record, f, indent=1)
        print(f'[pretrain] {record_file}: the set\'s fingerprint is now of its content', flush=True)
    return record


def legacy_set_fingerprint(set_dir: str) -> str:
    """The set's fingerprint in records made before 2026-11-30: of its files' bytes."""
    h = hashlib.sha256()
    for name in ('train.npz', 'val.npz', 'class_freq.json'):
        h.update(sha256_files(osp.join(set_dir, name)).encode())
    return h.hexdigest()


def pretrain(out_dir: str,
             opts: Optional[Dict[str, int]] = None,
             retrain: bool = False,
             threads: Optional[int] = None,
             progress: bool = True) -> dict:
    """The record of the pre-trained checkpoint in ``out_dir``: the one there when it is exactly
    what these options make, a new one otherwise (``retrain``) or when there is none."""
    opts = dict(DEFAULTS, **(opts or {}))
    unknown = sorted(set(opts) - set(DEFAULTS))
    if unknown:
        raise SystemExit(f'error: unknown pre-training option {unknown[0]!r}; known: '
                         f'{", ".join(DEFAULTS)}')
    for k, v in opts.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if k == 'seed' else 1):
            raise SystemExit(f'error: pre-training option {k} must be a positive integer, got '
                             f'{v!r}')
    if opts['epochs'] < 2:  # the config: one epoch of warm-up, then the cosine decay
        raise SystemExit(f'error: pre-training option epochs must be at least 2 (one epoch of '
                         f'warm-up, then the cosine decay), got {opts["epochs"]}')
    want = definition(out_dir, opts)
    if not retrain:
        set_dir = osp.join(out_dir, 'set')
        # a set there: refused when it is another; none there but a record of this definition
        # (the set deleted after the pre-training): made again from the same options, then
        # compared with the record by content (check_record)
        if osp.isfile(osp.join(set_dir, 'info.json')) or recorded_definition(out_dir) == want:
            ensure_set(out_dir, opts, retrain=False, progress=progress)
        record = check_record(out_dir, want)
        if record is not None:
            return record
    t0 = time.perf_counter()
    set_dir = ensure_set(out_dir, opts, retrain, progress)
    work = osp.join(out_dir, 'work')
    if osp.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    cfg = resolved_config(set_dir, opts['epochs'], opts['seed'])
    config = osp.join(work, 'pretrain_config.py')
    cfg.dump(config)
    print(
        f'[pretrain] training the backbone on {set_dir} ({opts["epochs"]} epochs) -> {work}',
        flush=True)
    launch(
        [sys.executable, repo_path('tools', 'train.py'), config, '--work-dir', work],
        threads=threads)
    import torch
    with open(osp.join(work, 'last_checkpoint')) as f:
        last = f.read().strip()
    state = torch.load(last, map_location='cpu', weights_only=False)['state_dict']
    backbone = {k: v for k, v in state.items() if k.startswith('backbone.')}
    ckpt = osp.join(out_dir, 'backbone.pth')
    torch.save(dict(state_dict=backbone, meta=dict(definition=want)), ckpt)
    record = dict(
        definition=want,
        checkpoint_sha256=sha256_files(ckpt),
        set_fingerprint=set_fingerprint(set_dir),
        val=val_metrics(work),
        seconds=round(time.perf_counter() - t0, 1),
        threads=threads or int(os.environ.get('OMP_NUM_THREADS', 0) or os.cpu_count() or 1))
    with open(osp.join(out_dir, 'pretrain.json'), 'w') as f:
        json.dump(record, f, indent=1)
    print(
        f'[pretrain] {ckpt}: val top-1 {record["val"].get("top1", float("nan")):.1f} % '
        f'({record["seconds"]:.0f} s)',
        flush=True)
    return record


def val_metrics(work: str) -> dict:
    """The last validation's metrics of the run in ``work`` (mmengine's scalars.json)."""
    import glob
    files = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
    out = {}
    if files:
        with open(files[-1]) as f:
            for line in f:
                row = {k.split('/')[-1]: v for k, v in json.loads(line).items()}
                if 'top1' in row:  # LongTailAccuracy's cls/top1, cls/mean_class
                    out = {k: v for k, v in row.items() if k in ('top1', 'mean_class', 'step')}
    return out


def check_backbone(backbone_cfg: dict, checkpoint: str, prefix: str = 'backbone.') -> int:
    """Raises ValueError unless the checkpoint's ``prefix`` keys are exactly the state of the
    backbone ``backbone_cfg`` builds, with the same shapes (mmengine's Pretrained init only warns
    about missing or unexpected keys); returns the number of tensors."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = dict(backbone_cfg)
    cfg.pop('init_cfg', None)
    expect = MODELS.build(cfg).state_dict()
    raw = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state = raw.get('state_dict', raw) if isinstance(raw, dict) else {}
    have = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    missing = sorted(set(expect) - set(have))
    unexpected = sorted(set(have) - set(expect))
    shapes = [
        f'{k} {tuple(have[k].shape)} (the backbone: {tuple(expect[k].shape)})' for k in expect
        if k in have and tuple(have[k].shape) != tuple(expect[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'{len(missing)} of the backbone\'s tensors missing (first: {missing[0]})')
        if unexpected:
            parts.append(f'{len(unexpected)} not in the backbone (first: {unexpected[0]})')
        if shapes:
            parts.append(f'{len(shapes)} of another shape (first: {shapes[0]})')
        raise ValueError(f'{checkpoint} does not fit the detector\'s backbone '
                         f'({cfg.get("type")}, depth {cfg.get("depth")}, base_channels '
                         f'{cfg.get("base_channels", 64)}): ' + '; '.join(parts))
    return len(expect)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default=DEFAULT_DIR, help=f'default: {DEFAULT_DIR}')
    for k, v in DEFAULTS.items():
        parser.add_argument(f'--{k.replace("_", "-")}', type=int, default=v, help=f'default {v}')
    parser.add_argument('--retrain', action='store_true', help='make the set and checkpoint again')
    parser.add_argument('--threads', type=int, help='OMP_NUM_THREADS of the training')
    parser.add_argument('--quiet', action='store_true', help='no progress bar for the set')
    args = parser.parse_args(argv)
    opts = {k: getattr(args, k) for k in DEFAULTS}
    record = pretrain(args.out_dir, opts, args.retrain, args.threads, not args.quiet)
    print(json.dumps(dict(checkpoint=osp.join(args.out_dir, 'backbone.pth'), **record), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
