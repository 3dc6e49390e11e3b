"""tools/speed/ap_fixed.py end to end at a tiny scale: every evaluator runs in its own process on
the same generated input, and their numbers agree (its figures are for LVIS-val scale)."""
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'speed', 'ap_fixed.py')


def test_benchmark_runs_and_evaluators_agree(tmp_path):
    res = subprocess.run([
        sys.executable, SCRIPT, '--images', '60', '--dets-per-cat', '12', '--keep-per-cat', '10',
        '--work-dir',
        str(tmp_path)
    ],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads((tmp_path / 'results.json').read_text())
    assert [r['mode'] for r in rows] == ['columns', 'dicts', 'metric', 'reference']
    base = rows[0]['summary']
    assert 0 < base['AP'] < 1 and 0 < base['APpool'] < 1
    for r in rows[1:]:
        # the metric sees boxes and scores in float32, as mmdet's detectors give them
        tol = 1e-6 if r['mode'] == 'metric' else 1e-9
        for k, v in r['summary'].items():
            assert abs(v - base[k]) <= tol, (r['mode'], k)
        assert r['seconds'] > 0 and r['peak_rss_mib'] > 0
    assert '| reference |' in res.stdout and 'faster than the plain-Python evaluator' in res.stdout
    bad = subprocess.run([sys.executable, SCRIPT, '--keep-per-cat', '0'],
                         capture_output=True,
                         text=True)
    assert bad.returncode != 0 and '--keep-per-cat must be at least 1, got 0' in bad.stderr
