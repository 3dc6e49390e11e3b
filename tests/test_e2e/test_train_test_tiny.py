"""End to end on the CPU: generate the tiny preset, train EQL for a few iterations with
tools/train.py, resume it from a named checkpoint, test it with tools/test.py, check the outputs.

(The softmax baseline's tools/train.py and tools/test.py runs, results checked, are the demo
runner's first run (test_demo_runner.py); `mim train mmdet CONFIG` finding the plugin through
custom_imports is proven by test_distributed.py's mim run with the pytorch launcher, which runs
mmdet's own train.py too.)"""
import json
import os.path as osp

import pytest
from e2e_utils import CONFIGS, ITERS, ROOT, options, run  # noqa: F401


@pytest.fixture(scope='module')
def tiny(tiny_data):
    return tiny_data  # the session's tiny preset (tests/conftest.py)


@pytest.mark.slow
def test_train_resume_and_test(tiny, tmp_path):
    method = 'eql'
    wd = str(tmp_path / method)
    cfg = CONFIGS[method]
    log = run(['tools/train.py', cfg, '--work-dir', wd, '--cfg-options', *options(tiny, method)])
    for it in (2, 4):
        assert osp.isfile(osp.join(wd, f'iter_{it}.pth'))
    assert 'EQLLoss: lambda=0.112 protects' in log
    # metrics of the validation at the end of training
    scalars = [json.loads(line) for p in sorted(glob_logs(wd)) for line in open(p)]
    final = [s for s in scalars if 'lvis/bbox_AP' in s]
    assert final, 'no validation metrics logged'
    for key in ('bbox_AP', 'bbox_APr', 'bbox_APc', 'bbox_APf', 'segm_AP', 'segm_APr'):
        # defined (-1 means "no ground truth to score") and a fraction
        assert 0 <= final[-1][f'lvis/{key}'] <= 1, (key, final[-1][f'lvis/{key}'])

    # resume from the iteration-2 checkpoint named on the command line (torch.load's
    # weights_only default) to iteration 6; test_resume_exact.py resumes with --resume alone
    log = run([
        'tools/train.py', cfg, '--work-dir', wd, '--resume',
        osp.join(wd, 'iter_2.pth'), '--cfg-options', *options(tiny, method, iters=6)
    ])
    assert 'resumed epoch: 0, iter: 2' in log
    assert osp.isfile(osp.join(wd, 'iter_6.pth'))

    prefix = str(tmp_path / f'{method}_dets')
    log = run([
        'tools/test.py', cfg,
        osp.join(wd, 'iter_6.pth'), '--work-dir', wd, '--out',
        str(tmp_path / 'preds.pkl'), '--cfg-options', *options(tiny, method),
        f'test_evaluator.outfile_prefix={prefix}'
    ])
    assert 'lvis/segm_APr' in log
    assert osp.isfile(prefix + '.bbox.json') and osp.isfile(prefix + '.segm.json')
    assert osp.isfile(tmp_path / 'preds.pkl')


def glob_logs(wd):
    import glob
    return glob.glob(osp.join(wd, '*', 'vis_data', 'scalars.json'))
