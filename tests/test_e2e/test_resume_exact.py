"""A training run killed with SIGKILL between checkpoints and restarted with --resume reaches the
same weights, EQLv2 statistics and metrics as a run never stopped (CPU, fixed seed, one thread:
the two runs go side by side), with torch.load's weights_only default. Then the uninterrupted run
is resumed from a checkpoint named on the command line with a longer schedule and tested with
tools/test.py (metrics, detection files, the --out pickle)."""
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


def opts(tiny, iters=ITERS):
    return options(
        tiny, 'eqlv2', iters=iters) + [
            f'default_hooks.checkpoint.interval={EVERY}',
            'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1'
        ]


#: one thread for every run of the test: bit-exact comparison needs the same thread count, and
#: the uninterrupted and the killed run share the 2-core CPU
ONE_THREAD = {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}


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
    env = dict(cpu_only_env(), **ONE_THREAD)
    ref_wd = str(tmp_path / 'uninterrupted')
    ref = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', ref_wd, '--cfg-options', *opts(tiny)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)

    wd = str(tmp_path / 'killed')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', wd, '--cfg-options', *opts(tiny)],
        cwd=ROOT,
        env=env,
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
    out, _ = ref.communicate()
    assert ref.returncode == 0, out[-3000:]
    # read before the uninterrupted run is extended in the same work dir (below)
    a = torch.load(osp.join(ref_wd, f'iter_{ITERS}.pth'))
    final = final_metrics(ref_wd)

    # the killed run resumed, while the uninterrupted one goes on from a checkpoint named on the
    # command line (torch.load's weights_only default) with a longer schedule, then is tested
    longer = ITERS + 2
    extended = subprocess.Popen([
        sys.executable, 'tools/train.py', cfg, '--work-dir', ref_wd, '--resume',
        osp.join(ref_wd, f'iter_{2 * EVERY}.pth'), '--cfg-options', *opts(tiny, iters=longer)
    ],
                                cwd=ROOT,
                                env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                text=True)
    try:
        log = run(
            ['tools/train.py', cfg, '--work-dir', wd, '--resume', '--cfg-options', *opts(tiny)],
            env=env,
            cpu_only=True)
    finally:
        extended_log, _ = extended.communicate()
    assert f'resumed epoch: 0, iter: {EVERY}' in log
    b = torch.load(osp.join(wd, f'iter_{ITERS}.pth'))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differ = [k for k in a['state_dict'] if not torch.equal(a['state_dict'][k], b['state_dict'][k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:3]}'
    stats = 'roi_head.bbox_head.loss_cls.grad_stats.'
    assert int(b['state_dict'][stats + 'num_updates']) == ITERS
    assert (b['state_dict'][stats + 'neg_grad'] > 0).all()
    assert final and final[-1] == final_metrics(wd)[-1]
    for key in ('bbox_AP', 'bbox_APr', 'bbox_APc', 'bbox_APf', 'segm_AP', 'segm_APr'):
        # defined (-1 means "no ground truth to score") and a fraction
        assert 0 <= final[-1][f'lvis/{key}'] <= 1, (key, final[-1][f'lvis/{key}'])

    assert extended.returncode == 0, extended_log[-3000:]
    assert f'resumed epoch: 0, iter: {2 * EVERY}' in extended_log
    assert osp.isfile(osp.join(ref_wd, f'iter_{longer}.pth'))
    # tools/test.py on it: metrics, the detections as LVIS JSON, and the --out pickle
    prefix = str(tmp_path / 'dets')
    log = run([
        'tools/test.py', cfg,
        osp.join(ref_wd, f'iter_{longer}.pth'), '--work-dir', ref_wd, '--out',
        str(tmp_path / 'preds.pkl'), '--cfg-options', *opts(tiny, iters=longer),
        f'test_evaluator.outfile_prefix={prefix}'
    ],
              env=env,
              cpu_only=True)
    assert 'lvis/segm_APr' in log
    assert osp.isfile(prefix + '.bbox.json') and osp.isfile(prefix + '.segm.json')
    assert osp.isfile(tmp_path / 'preds.pkl')
