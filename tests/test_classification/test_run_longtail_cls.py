"""tools/benchmark/run_cls.py end to end at a tiny scale: it makes the set, trains each method
with tools/train.py (two at once), reports the table and plot, reuses finished runs and refuses a
run of another definition."""
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RUNNER = 'mmdet_eql.benchmark.classification'


@pytest.mark.slow
def test_runner_trains_reports_and_reuses(tmp_path, run_tool):
    args = [
        '--imbalance', '10', '--max-count', '30', '--epochs', '1', '--methods', 'ce', 'seql-g0.9',
        '--seeds', '0', '--data-dir',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'wd')
    ]
    res = run_tool(RUNNER, *args, '--jobs', '2')
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert '| softmax CE |' in res.stdout and '| SEQL, gamma 0.9 |' in res.stdout
    results = json.loads((tmp_path / 'wd' / 'results.json').read_text())['10']
    for method in ('ce', 'seql-g0.9'):
        metrics = results[method]['0']
        assert 0 <= metrics['top1'] <= 100 and metrics['many_shot'] == -1  # at most 30 images
    assert (tmp_path / 'wd' / 'results.png').stat().st_size > 0
    log = (tmp_path / 'wd' / 'ir10' / 'seql-g0.9_seed0' / 'run.log').read_text()
    assert 'SoftmaxEQLLoss: gamma=0.9, lambda=0.003 protects' in log
    # a second call reuses both runs
    again = run_tool(RUNNER, *args)
    assert again.returncode == 0 and again.stdout.count('done earlier') == 2, again.stdout
    # another definition in the same work dir is refused
    other = run_tool(RUNNER, *[a if a != '1' else '2' for a in args])
    assert other.returncode != 0 and 'holds a run of another definition' in other.stderr
    # the records are the detection runner's (run.json: definition and status; eval.json)
    wd = tmp_path / 'wd' / 'ir10' / 'ce_seed0'
    record = json.loads((wd / 'run.json').read_text())
    assert record['status'] == 'finished' and record['definition']['method'] == 'ce'
    assert json.loads((wd / 'eval.json').read_text()) == results['ce']['0']
    # --report-only reports what is there and trains nothing
    (tmp_path / 'wd' / 'results.md').unlink()
    report = run_tool(RUNNER, *args, '--report-only')
    assert report.returncode == 0 and 'training' not in report.stdout, report.stdout
    assert '| softmax CE | 1 |' in (tmp_path / 'wd' / 'results.md').read_text()
    bad = run_tool(RUNNER, '--methods', 'focal')
    assert bad.returncode != 0 and "no classification leaf states method 'focal'" in bad.stderr
