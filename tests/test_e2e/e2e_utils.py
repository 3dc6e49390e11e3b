"""Helpers of the end-to-end tests: the tiny preset's config overrides and a subprocess runner."""
import os
import os.path as osp
import socket
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'benchmark')
CONFIGS = {
    'softmax': osp.join(DEMO, 'mask-rcnn_r18-half_fpn_random_longtail.py'),
    'eql': osp.join(DEMO, 'mask-rcnn_r18-half_fpn_eql_random_longtail.py'),
    'eqlv2': osp.join(DEMO, 'mask-rcnn_r18-half_fpn_eqlv2_random_longtail.py'),
}
ITERS = 4

#: the tiny preset's image size, read by the benchmark's base config (never set by the position of
#: a pipeline transform); every run of these helpers gets it
TINY_ENV = {'LONGTAIL_IMAGE_SIZE': '64'}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def options(data_root, method, iters=ITERS):
    opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'val_evaluator.ann_file={data_root}annotations/val_lvis.json',
        f'test_evaluator.ann_file={data_root}annotations/val_lvis.json',
        'model.roi_head.bbox_head.num_classes=16', 'model.roi_head.mask_head.num_classes=16',
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=3',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]
    if method != 'softmax':
        opts += [
            f'model.roi_head.bbox_head.class_freq={data_root}annotations/class_freq.json',
            'model.roi_head.bbox_head.loss_cls.num_classes=16'
        ]
    return opts


#: environment of the tests that check the CPU (gloo) path and bit-exact results: they hide any
#: GPU, so that they test the same thing on a CUDA machine (where one GPU could not host two ranks,
#: and CUDA kernels such as RoIAlign's backward are not bit-reproducible)
CPU_ONLY = {'CUDA_VISIBLE_DEVICES': ''}


def cpu_only_env(env=None) -> dict:
    """``env`` (default: this process's environment) with every GPU hidden (and the tiny
    preset's image size)."""
    return dict(os.environ if env is None else env, **CPU_ONLY, **TINY_ENV)


def run(args, env=None, executable=True, cpu_only=False):
    cmd = [sys.executable, *args] if executable else list(args)
    env = cpu_only_env(env) if cpu_only else dict(os.environ if env is None else env, **TINY_ENV)
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


class BackgroundRuns:
    """The session's one pool of end-to-end runs (the LVIS leaves', the own-data paths'): runs are
    submitted when the session starts (tests/conftest.py calls each background module's
    ``start_background_runs``) and go on while the other tests run, one at a time then (they
    share this 2-core CPU with the unit tests), ``parallel`` at a time once the background
    modules' tests start (:meth:`open_all_slots`: the other tests are done). Each test waits for
    its own run and re-raises its failure."""

    def __init__(self, parallel: int, alone: bool) -> None:
        import concurrent.futures
        import threading
        self.pool = concurrent.futures.ThreadPoolExecutor(parallel)
        self.slots = threading.Semaphore(parallel if alone else 1)
        self.closed = parallel - (parallel if alone else 1)
        self.futures = {}

    def submit(self, name: str, job, *args) -> None:

        def in_slot():
            with self.slots:
                return job(*args)

        self.futures[name] = self.pool.submit(in_slot)

    def open_all_slots(self) -> None:
        for _ in range(self.closed):
            self.slots.release()
        self.closed = 0


_BACKGROUND = []


def background_runs(parallel: int = 2, alone: bool = True) -> BackgroundRuns:
    """The session's pool (made by the first caller)."""
    if not _BACKGROUND:
        _BACKGROUND.append(BackgroundRuns(parallel, alone))
    return _BACKGROUND[0]


def stop_background_runs() -> None:
    """Waits for the session's pool, if one was made."""
    if _BACKGROUND:
        _BACKGROUND[0].pool.shutdown(wait=True, cancel_futures=True)
