"""Multi-process training on the CPU: tools/dist_train.sh and tools/dist_test.sh with 2 gloo
processes on the tiny preset; EQLv2's statistics must be identical on both ranks."""
import glob
import json
import os
import os.path as osp

import pytest
import torch
from e2e_utils import CONFIGS, CPU_ONLY, ROOT, free_port, options, run

import mmdet_eql  # noqa: F401,E402  (checkpoints load with weights_only=True)

HERE = osp.dirname(osp.abspath(__file__))


@pytest.fixture(scope='module')
def tiny(tiny_data):
    return tiny_data  # the session's tiny preset (tests/conftest.py)


def dumping_config(tmp_path) -> str:
    """EQLv2 on the tiny preset, dumping its statistics per rank, and without the benchmark's
    ``model_wrapper_cfg``, as an LVIS leaf or a user's config has it: tools/train.py picks the DDP
    wrapper that takes a CPU model (mmengine's default gives torch's DDP device_ids=[0], which
    fails for a CPU module)."""
    cfg = tmp_path / 'eqlv2_dump.py'
    cfg.write_text(f"_base_ = {CONFIGS['eqlv2']!r}\n"
                   "model_wrapper_cfg = None\n"
                   "custom_imports = dict(imports=['mmdet_eql', 'stats_dump_hook'], "
                   "allow_failed_imports=False)\n"
                   "custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook'), "
                   "dict(type='DumpGradStatsHook'), "
                   "dict(type='GradientRatioMonitorHook', interval=1)]\n")
    return str(cfg)


def dist_env():
    env = dict(os.environ)
    env['PYTHON'] = os.environ.get('PYTHON', __import__('sys').executable)
    env['PORT'] = str(free_port())
    env['PYTHONPATH'] = HERE + os.pathsep + env.get('PYTHONPATH', '')
    env['OMP_NUM_THREADS'] = '1'
    env.update(CPU_ONLY)  # two gloo ranks on the CPU, also where a GPU is present
    return env


@pytest.mark.slow
def test_two_gloo_processes_train_checkpoint_evaluate_and_share_eqlv2_statistics(tiny, tmp_path):
    wd = tmp_path / 'wd'
    opts = options(tiny, 'eqlv2', iters=2)
    log = run([
        'bash', 'tools/dist_train.sh',
        dumping_config(tmp_path), '2', '--work-dir',
        str(wd), '--cfg-options', *opts
    ],
              env=dist_env(),
              executable=False)
    assert 'the gloo backend instead of nccl' in log
    assert 'model_wrapper_cfg type DeviceAwareDistributedDataParallel' in log
    assert 'broadcast_buffers' not in log  # torch 2.13's FutureWarning for the deprecated flag
    assert osp.isfile(wd / 'iter_2.pth')
    assert 'lvis/bbox_APr' in log
    ranks = [torch.load(str(wd / f'grad_stats_rank{r}.pth')) for r in range(2)]
    assert all(r['world_size'] == 2 and r['backend'] == 'gloo' for r in ranks)
    for key in ('pos_grad', 'neg_grad', 'num_updates'):
        assert torch.equal(ranks[0]['state'][key], ranks[1]['state'][key]), key
    assert int(ranks[0]['state']['num_updates']) == 2
    assert (ranks[0]['state']['neg_grad'] > 0).all()
    # the gradient-ratio monitor's report is the sum of the two ranks' own parts, and its
    # negative total the sum of its parts by source
    (report, ) = wd.glob('*/grad_ratio.json')
    rep = json.loads(report.read_text())['categories']
    local = [r['monitor']['bbox_head'] for r in ranks]
    assert not torch.equal(local[0]['neg_bg'], local[1]['neg_bg'])  # each rank its own images
    for j, c in enumerate(rep):
        bg = float(local[0]['neg_bg'][j] + local[1]['neg_bg'][j])
        fg = float(local[0]['neg_fg'][j] + local[1]['neg_fg'][j])
        assert c['pos_grad'] == float(local[0]['pos'][j] + local[1]['pos'][j])
        assert c['neg_grad_background'] == bg and c['neg_grad'] == bg + fg
        assert c['neg_grad_other_classes'] == pytest.approx(fg, rel=1e-12)
    # the checkpoint holds the same (global) statistics
    ckpt = torch.load(str(wd / 'iter_2.pth'))
    assert torch.equal(ckpt['state_dict']['roi_head.bbox_head.loss_cls.grad_stats.neg_grad'],
                       ranks[0]['state']['neg_grad'])

    # distributed testing of that checkpoint
    log = run([
        'bash', 'tools/dist_test.sh', CONFIGS['eqlv2'],
        str(wd / 'iter_2.pth'), '2', '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *opts
    ],
              env=dist_env(),
              executable=False)
    assert 'lvis/segm_APr' in log


def test_dist_scripts_check_their_arguments():
    for script, n in (('dist_train.sh', 2), ('dist_test.sh', 3), ('slurm_train.sh', 4),
                      ('slurm_test.sh', 4)):
        import subprocess
        res = subprocess.run(['bash', osp.join(ROOT, 'tools', script)],
                             capture_output=True,
                             text=True)
        assert res.returncode == 2 and 'usage:' in res.stderr, script
    res = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), 'x.py', 'two'],
                         capture_output=True,
                         text=True)
    assert res.returncode == 2 and "positive integer, got 'two'" in res.stderr
    assert glob.glob(osp.join(ROOT, 'tools', '*.sh'))


@pytest.mark.slow
def test_mim_train_with_the_pytorch_launcher(tiny, tmp_path):
    import sys
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    wd = tmp_path / 'wd'
    log = run([
        mim, 'train', 'mmdet', CONFIGS['eqlv2'], '--launcher', 'pytorch', '--gpus', '2', '--port',
        str(free_port()), '-y', '--work-dir',
        str(wd), '--cfg-options', *options(tiny, 'eqlv2', iters=1), 'train_cfg.val_begin=2'
    ],
              env=dist_env(),
              executable=False)
    # training only: validation on 2 processes is the dist_train.sh test's
    assert log.count('the gloo backend instead of nccl') == 2  # one per process
    assert osp.isfile(wd / 'iter_1.pth')
