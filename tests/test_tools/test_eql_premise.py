"""tools/analysis_tools/eql_premise.py: the share of each group's negative gradient that EQL at a
lambda would remove, on a hand-checked report; its bad inputs. (On a real run's report: the demo
runner's end-to-end test.)"""
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = 'mmdet_eql.analysis.eql_premise'


def cat(freq, group, neg, other):
    return dict(
        freq=freq, frequency=group, neg_grad=neg, neg_grad_other_classes=other, pos_grad=1.0)


def test_shares_by_hand(tmp_path, run_tool):
    report = tmp_path / 'grad_ratio.json'
    report.write_text(
        json.dumps(
            dict(categories=[
                cat(0.001, 'r', 10.0, 2.0),  # protected: removes 0.2, background 0.8
                cat(0.002, 'r', 10.0, 6.0),  # protected: removes 0.6, background 0.4
                cat(0.01, 'c', 4.0, 1.0),  # not protected: removes 0, background 0.75
                cat(0.5, 'f', 8.0, 8.0),  # not protected, all from other classes
            ])))
    res = run_tool(TOOL, str(report), '--lambda', '0.005', '--out', str(tmp_path / 'out.json'))
    assert res.returncode == 0, res.stderr
    assert '| rare | 2 | 2 | 0.600 | 0.400 | 0.400 |' in res.stdout
    assert '| common | 1 | 0 | 0.750 | 0.000 | - |' in res.stdout
    out = json.loads((tmp_path / 'out.json').read_text())['groups']
    assert out['f'] == dict(
        classes=1,
        protected=0,
        background_share=0.0,
        removed_share=0.0,
        removed_share_of_protected=None)
    assert out['r']['removed_share'] == pytest.approx(0.4)


def test_bad_inputs(tmp_path, run_tool):
    old = tmp_path / 'old.json'
    old.write_text(json.dumps(dict(categories=[dict(neg_grad=1.0, pos_grad=1.0)])))
    res = run_tool(TOOL, str(old), '--lambda', '0.001')
    assert res.returncode != 0 and 'lacks neg_grad_other_classes, freq, frequency' in res.stderr
    res = run_tool(TOOL, str(tmp_path / 'missing.json'), '--lambda', '0.001')
    assert res.returncode != 0 and 'not a readable JSON report' in res.stderr
    res = run_tool(TOOL, str(old), '--lambda', '-1')
    assert res.returncode != 0 and '--lambda must be a number >= 0' in res.stderr
