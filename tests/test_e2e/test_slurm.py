"""A real Slurm: a single-node cluster (slurmctld and slurmd on localhost, CPU only) is started for
the test and tools/slurm_train.sh runs 2 tasks on the tiny preset through it.

Slurm comes from Debian's slurm-wlm, installed by the test (apt-get) when it is missing and the
test runs as root. Where Slurm cannot be installed or started, the test skips and says why; under
CI (CI=true) it fails instead, since CI is where it must run.
"""
import os
import os.path as osp
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import torch
from e2e_utils import CONFIGS, CPU_ONLY, free_port, options, run

import mmdet_eql  # noqa: F401,E402  (checkpoints load with weights_only=True)

HERE = osp.dirname(osp.abspath(__file__))
IN_CI = os.environ.get('CI', '').lower() == 'true'


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f'Slurm test cannot run under CI: {reason}')
    pytest.skip(reason)


def ensure_slurm_installed():
    if platform.system() != 'Linux':
        unavailable('Slurm needs Linux')
    if all(shutil.which(x) for x in ('slurmctld', 'slurmd', 'srun', 'munged')):
        return
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        unavailable('slurm-wlm is not installed and cannot be installed (needs root and apt-get)')
    res = subprocess.run(['apt-get', 'install', '-y', '--no-install-recommends', 'slurm-wlm'],
                         capture_output=True,
                         text=True,
                         env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'),
                         timeout=900)
    if res.returncode != 0 or not shutil.which('slurmctld'):
        unavailable(f'apt-get install slurm-wlm failed: {res.stderr[-500:]}')


SLURM_CONF = """ClusterName=mmdeteql
SlurmctldHost={host}
SlurmUser={user}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName={host} CPUs={cpus} Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope='module')
def slurm():
    ensure_slurm_installed()
    if os.geteuid() != 0:
        unavailable('starting slurmd needs root')
    root = tempfile.mkdtemp(prefix='slurm')  # short: the munge socket path has a length limit
    for d in ('state', 'spool'):
        os.makedirs(osp.join(root, d))
    key = osp.join(root, 'munge.key')
    with open(key, 'wb') as f:
        f.write(os.urandom(1024))
    os.chmod(key, 0o600)
    host = socket.gethostname().split('.')[0]
    conf = osp.join(root, 'slurm.conf')
    with open(conf, 'w') as f:
        f.write(
            SLURM_CONF.format(
                host=host,
                user='root',
                ctld_port=free_port(),
                d_port=free_port(),
                root=root,
                cpus=os.cpu_count()))
    # two GPU "slots" without devices: srun's --gres=gpu:N (which mim always passes) can be
    # satisfied; the tasks still find no CUDA and run on the CPU
    with open(osp.join(root, 'gres.conf'), 'w') as f:
        f.write(
            f'NodeName={host} Name=gpu File=/dev/null\nNodeName={host} Name=gpu File=/dev/zero\n')
    env = dict(os.environ, SLURM_CONF=conf)
    procs = []
    try:
        subprocess.run([
            'munged', '--force', f'--key-file={key}', f'--socket={root}/munge.socket',
            f'--pid-file={root}/munged.pid', f'--log-file={root}/munged.log',
            f'--seed-file={root}/munge.seed'
        ],
                       check=True,
                       capture_output=True)
        for daemon in ('slurmctld', 'slurmd'):
            procs.append(
                subprocess.Popen([daemon, '-D', '-f', conf],
                                 env=env,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL))
        deadline = time.time() + 60
        while time.time() < deadline:
            res = subprocess.run(['sinfo', '-h', '-o', '%T'],
                                 env=env,
                                 capture_output=True,
                                 text=True)
            if res.returncode == 0 and res.stdout.strip() in ('idle', 'mixed', 'allocated'):
                break
            time.sleep(1)
        else:
            logs = ''.join(
                open(osp.join(root, n)).read()[-400:] for n in ('slurmctld.log', 'slurmd.log')
                if osp.isfile(osp.join(root, n)))
            unavailable(f'the local Slurm did not come up in 60 s: {logs}')
        yield env
    except subprocess.CalledProcessError as e:
        unavailable(f'munged did not start: {e.stderr!r}')
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        pid_file = osp.join(root, 'munged.pid')
        if osp.isfile(pid_file):
            try:
                os.kill(int(open(pid_file).read().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope='module')
def tiny(tiny_data):
    return tiny_data  # the session's tiny preset (tests/conftest.py)


@pytest.mark.slow
def test_slurm_train_runs_two_tasks_through_a_real_slurm(slurm, tiny, tmp_path):
    cfg = tmp_path / 'eqlv2_dump.py'
    cfg.write_text(f"_base_ = {CONFIGS['eqlv2']!r}\n"
                   "custom_imports = dict(imports=['mmdet_eql', 'stats_dump_hook'], "
                   "allow_failed_imports=False)\n"
                   "custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook'), "
                   "dict(type='DumpGradStatsHook')]\n")
    import sys
    env = dict(
        slurm,
        GPUS='2',
        GPUS_PER_NODE='2',
        CPUS_PER_TASK='1',
        GRES='',
        PORT=str(free_port()),
        PYTHON=sys.executable,
        OMP_NUM_THREADS='1',
        **CPU_ONLY,
        PYTHONPATH=HERE + os.pathsep + os.environ.get('PYTHONPATH', ''))
    wd = tmp_path / 'wd'
    log = run([
        'bash', 'tools/slurm_train.sh', 'debug', 'mmdet-eql-test',
        str(cfg),
        str(wd), '--cfg-options', *options(tiny, 'eqlv2', iters=2)
    ],
              env=env,
              executable=False)
    assert 'the gloo backend instead of nccl' in log
    assert osp.isfile(wd / 'iter_2.pth')
    assert 'lvis/bbox_APr' in log
    ranks = [torch.load(str(wd / f'grad_stats_rank{r}.pth')) for r in range(2)]
    assert [r['world_size'] for r in ranks] == [2, 2]
    assert torch.equal(ranks[0]['state']['neg_grad'], ranks[1]['state']['neg_grad'])
    # and the test script, through srun too
    log = run([
        'bash', 'tools/slurm_test.sh', 'debug', 'mmdet-eql-test', CONFIGS['eqlv2'],
        str(wd / 'iter_2.pth'), '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *options(tiny, 'eqlv2', iters=2)
    ],
              env=env,
              executable=False)
    assert 'lvis/segm_APr' in log


@pytest.mark.slow
def test_mim_train_with_the_slurm_launcher(slurm, tiny, tmp_path):
    import sys
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    wd = tmp_path / 'wd'
    env = dict(slurm, MASTER_PORT=str(free_port()), OMP_NUM_THREADS='1', **CPU_ONLY)
    log = run([
        mim, 'train', 'mmdet', CONFIGS['eqlv2'], '--launcher', 'slurm', '--gpus', '2',
        '--gpus-per-node', '2', '--cpus-per-task', '1', '--partition', 'debug', '-y', '--work-dir',
        str(wd), '--cfg-options', *options(tiny, 'eqlv2', iters=1), 'train_cfg.val_begin=2'
    ],
              env=env,
              executable=False)
    # training only: validation on 2 Slurm tasks is proven by the slurm_train.sh test above
    assert 'the gloo backend instead of nccl' in log
    assert osp.isfile(wd / 'iter_1.pth')
