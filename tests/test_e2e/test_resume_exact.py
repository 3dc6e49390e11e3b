"""A training run killed with SIGKILL between checkpoints and restarted with --resume reaches the
same weights, EQLv2 statistics and metrics as a run never stopped (CPU, fixed seed), with
torch.load's weights_only default."""
import glob
import json
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from e2e_utils import CONFIGS, ROOT, cpu_only_env, options, run

import mmdet_eql  # noqa: F401,E402  (checkpoints load with weights_only=True)

ITERS = 8
EVERY = 3


@pytest.fixture(scope='module')
def tiny(tiny_data):
    return tiny_data  # the session's tiny preset (tests/conftest.py)


def opts(tiny):
    return options(
        tiny, 'eqlv2', iters=ITERS) + [
            f'default_hooks.checkpoint.interval={EVERY}',
            'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1'
        ]


def final_metrics(wd):
    lines = [
        json.loads(line) for p in glob.glob(osp.join(wd, '*', 'vis_data', 'scalars.json'))
        for line in open(p)
    ]
    return [{
        k: v
        for k, v in s.items() if k.startswith('lvis/')
    } for s in lines if 'lvis/bbox_AP' in s]


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tiny, tmp_path):
    cfg = CONFIGS['eqlv2']
    ref_wd = str(tmp_path / 'uninterrupted')
    run(['tools/train.py', cfg, '--work-dir', ref_wd, '--cfg-options', *opts(tiny)], cpu_only=True)

    wd = str(tmp_path / 'killed')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', wd, '--cfg-options', *opts(tiny)],
        cwd=ROOT,
        env=cpu_only_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    marker = osp.join(wd, 'last_checkpoint')
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if osp.isfile(marker) and open(marker).read().strip().endswith(f'iter_{EVERY}.pth'):
            break
        time.sleep(0.02)
    assert proc.poll() is None, 'the run ended before it could be killed'
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not osp.isfile(osp.join(wd, f'iter_{ITERS}.pth'))

    log = run(['tools/train.py', cfg, '--work-dir', wd, '--resume', '--cfg-options', *opts(tiny)],
              cpu_only=True)
    assert f'resumed epoch: 0, iter: {EVERY}' in log

    a = torch.load(osp.join(ref_wd, f'iter_{ITERS}.pth'))
    b = torch.load(osp.join(wd, f'iter_{ITERS}.pth'))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differ = [k for k in a['state_dict'] if not torch.equal(a['state_dict'][k], b['state_dict'][k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:3]}'
    stats = 'roi_head.bbox_head.loss_cls.grad_stats.'
    assert int(b['state_dict'][stats + 'num_updates']) == ITERS
    assert (b['state_dict'][stats + 'neg_grad'] > 0).all()
    assert final_metrics(ref_wd) and final_metrics(ref_wd)[-1] == final_metrics(wd)[-1]
