"""The lint configuration of setup.cfg (flake8 + isort + yapf, as mmdet) holds on the project."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATHS = ['mmdet_eql', 'tools', 'tests', 'configs']


@pytest.mark.parametrize(
    'cmd',
    [
        ['flake8'],
        ['isort', '--check-only', '--diff'],
        # --parallel: one process a core (a third of the suite's lint time on 2 cores)
        ['yapf', '--diff', '--recursive', '--parallel'],
    ],
    ids=lambda c: c[0])
def test_lint(cmd):
    res = subprocess.run([sys.executable, '-m', *cmd, *PATHS],
                         cwd=ROOT,
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
