"""The README's main job, on the tiny preset with two iterations per model."""
import json
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    wd = tmp_path / 'wd'
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'misc', 'run_longtail_demo.py'), '--preset', 'tiny', '--data-root',
        str(tmp_path / 'data'), '--work-dir',
        str(wd), '--max-iters', '2', '--methods', 'softmax', 'eql', '--cfg-options',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False'
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'LVIS-like val (federated negatives):' in res.stdout
    assert '| EQL, rare+common |' in res.stdout
    assert '| rare | common | frequent |' in res.stdout  # the gradient-ratio monitor's table
    for f in ('results.md', 'results.json', 'ap_by_group.png', 'per_category_ap.png',
              'grad_ratio.png'):
        assert (wd / f).stat().st_size > 0, f
    results = json.loads((wd / 'results.json').read_text())['results']
    for method in ('softmax', 'eql'):
        for key in ('bbox/lvis', 'segm/lvis', 'bbox/strict', 'segm/strict'):
            summary = results[method]['0'][key]
            assert all(k in summary for k in ('AP', 'APr', 'APc', 'APf'))
            assert 0 <= summary['AP'] <= 1
    # a second run reuses the trained models and the dataset
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and 'done earlier' in res.stdout
    # report only: seed 1 was never trained, it is left out and nothing trains
    res = subprocess.run(
        cmd[:cmd.index('--max-iters')] +
        ['--report-only', '--seeds', '0', '1', '--methods', 'softmax', 'eql', 'eqlv2'],
        capture_output=True,
        text=True,
        cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'eql seed 1: no finished run, left out of the report' in res.stdout
    assert '| EQL, rare+common | 0 |' in res.stdout and 'EQLv2' not in res.stdout.split(
        'LVIS-like')[1]
    assert 'training' not in res.stdout
