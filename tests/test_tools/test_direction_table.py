"""tools/benchmark/direction_table.py: the rule of the direction table, by hand."""
import json

import pytest

from mmdet_eql.benchmark import direction

TOOL = 'mmdet_eql.benchmark.direction'


def tool():
    return direction


@pytest.mark.parametrize('published, measured, spread, expect', [(4.1, 2.0, 1.0, 'agree'),
                                                                 (4.1, -2.0, 1.0, 'disagree'),
                                                                 (4.1, 0.9, 1.0, 'within noise'),
                                                                 (-2.7, -1.5, 1.0, 'agree'),
                                                                 (-2.7, 1.5, 1.0, 'disagree'),
                                                                 (-0.3, 0.8, 1.0, 'agree'),
                                                                 (-0.3, 1.2, 1.0, 'disagree'),
                                                                 (0.2, -0.1, 0.0, 'disagree'),
                                                                 (0.5, 0.6, 0.5, 'agree')])
def test_verdict_rule(published, measured, spread, expect):
    assert tool().verdict(published, measured, spread) == expect


def fake_results(values):
    """results.json's shape: {method: {seed: {'bbox/lvis': ..., 'protocols': ...}}} with the
    scaled budget's numbers given per method as lists over seeds (fractions, as lvis_eval)."""
    out = {}
    for m, seeds in values.items():
        out[m] = {}
        for s, (ap, apr, apc, apf) in enumerate(seeds):
            summ = dict(AP=ap, APr=apr, APc=apc, APf=apf)
            out[m][str(s)] = {
                'bbox/lvis': {
                    k: v + 0.1
                    for k, v in summ.items()
                },
                'protocols': dict(standard_scaled=summ)
            }
    return dict(preset='steep', results=out)


def test_table_counts_and_cells(tmp_path, run_tool):
    base = [(0.30, 0.02, 0.20, 0.60), (0.32, 0.04, 0.22, 0.62)]  # sigmoid: 2 seeds
    eql = [(0.33, 0.10, 0.26, 0.60), (0.35, 0.12, 0.28, 0.62)]  # +3 / +8 / +6 / 0
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(fake_results(dict(sigmoid=base, eql=eql))))
    text, counts = tool().table(fake_results(dict(sigmoid=base, eql=eql))['results'])
    row = next(line for line in text.splitlines() if line.startswith('| eql vs sigmoid'))
    # AP: published +2.7, measured +3.0 with spread sqrt(2) * 1.414 = 2.0
    assert '+2.7 / +3.0 ± 2.0: agree' in row
    assert '+4.1 / +8.0 ± 2.0: agree' in row and '+4.8 / +6.0 ± 2.0: agree' in row
    # APf: published -0.3 (no change), measured 0.0: agree
    assert '-0.3 / +0.0 ± 2.0: agree' in row
    # only eql vs sigmoid can be measured here; the others are named as not measured
    assert counts == {'agree': 4, 'disagree': 0, 'within noise': 0, 'comparisons': 1}
    assert 'Not measured (no runs): eql vs softmax' in text
    res = run_tool(TOOL, str(path), '--markdown', str(tmp_path / 'd.md'))
    assert res.returncode == 0 and '4 agree, 0 disagree, 0 within noise, over 1' in res.stdout
    assert (tmp_path / 'd.md').read_text().startswith('Direction table, steep (box AP')
    # a results.json that names its regime (the runner's since 2026-11-30) is titled with it
    path.write_text(
        json.dumps(dict(fake_results(dict(sigmoid=base, eql=eql)), regime='pretrained')))
    res = run_tool(TOOL, str(path))
    assert res.stdout.startswith('Direction table, steep pre-trained (box AP'), res.stdout
    std = run_tool(TOOL, str(path), '--measure', 'standard')
    assert "the model's own budget" in std.stdout


def test_bad_input_is_named(tmp_path, run_tool):
    res = run_tool(TOOL, str(tmp_path / 'none.json'))
    assert res.returncode == 1 and 'none.json does not exist' in res.stderr
    bad = tmp_path / 'bad.json'
    bad.write_text('{"results": {"eql": {"0": {"bbox/lvis": {}}}}}')
    res = run_tool(TOOL, str(bad))
    assert res.returncode == 1 and 'eql seed 0: protocols.standard_scaled' in res.stderr
    bad.write_text('not json')
    res = run_tool(TOOL, str(bad))
    assert res.returncode == 1 and 'is not JSON' in res.stderr


def test_ablation_rows(tmp_path, run_tool):
    eql = [(0.33, 0.10, 0.26, 0.60), (0.35, 0.12, 0.28, 0.62)]
    noer = [(0.33, 0.14, 0.26, 0.50), (0.35, 0.16, 0.28, 0.52)]  # 0 / +4 / 0 / -10
    results = fake_results({'eql': eql, 'eql-noer': noer})
    text, counts = tool().table(results['results'], rows='ablations')
    row = next(line for line in text.splitlines() if line.startswith('| eql-noer vs eql'))
    # Table 4: without E(r) 22.2 / 12.5 / 24.7 / 23.1 against EQL 22.8 / 11.3 / 24.7 / 25.1
    assert '-0.6 / +0.0 ± 2.0: within noise' in row and '+1.2 / +4.0 ± 2.0: agree' in row
    assert '+0.0 / +0.0 ± 2.0: agree' in row and '-2.0 / -10.0 ± 2.0: agree' in row
    assert counts == {'agree': 3, 'disagree': 0, 'within noise': 1, 'comparisons': 1}
    assert 'eql-tr3 vs sigmoid' in text.split('Not measured (no runs): ')[1]
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(results))
    res = run_tool(TOOL, str(path), '--rows', 'ablations')
    assert res.returncode == 0 and res.stdout.startswith('Ablation table, steep')
