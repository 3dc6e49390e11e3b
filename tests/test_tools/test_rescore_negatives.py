"""mmdet_eql.benchmark.rescore (tools/benchmark/rescore_negatives.py): val files with k verified
negatives per image, and the sweep over them."""
import json
import os.path as osp
import sys

import numpy as np
import pytest

from mmdet_eql.evaluation import lvis_eval

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_evaluation'))

from mmdet_eql.benchmark import rescore as rn  # noqa: E402


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    from mmdet_eql.benchmark.synthetic import generate
    root = tmp_path_factory.mktemp('data')
    generate(str(root), preset='tiny', seed=1, progress=False)
    return root


def test_val_with_negatives_draws_subsets_of_the_strict_file(dataset):
    strict = json.loads((dataset / 'annotations' / 'val_strict.json').read_text())
    rng = np.random.RandomState(0)
    for k in (0, 1, 3, 100):
        gt = rn.val_with_negatives(strict, k, rng)
        assert gt['annotations'] is strict['annotations']
        for im, full in zip(gt['images'], strict['images']):
            neg = im['neg_category_ids']
            assert len(neg) == min(k, len(full['neg_category_ids']))
            assert set(neg) <= set(full['neg_category_ids']) and neg == sorted(neg)
    assert rn.val_with_negatives(strict, 'all', rng) is strict


def test_sweep_end_to_end(dataset, tmp_path):
    from test_lvis_eval import make_detections
    strict = json.loads((dataset / 'annotations' / 'val_strict.json').read_text())
    for m, s in (('sigmoid', 0), ('eql', 0), ('eql', 1)):
        wd = tmp_path / f'{m}_seed{s}'
        wd.mkdir()
        dets = make_detections(strict, seed=s + (m == 'eql'), crowded_image=False)
        (wd / 'dets.bbox.json').write_text(json.dumps(dets))
    assert rn.main([
        str(tmp_path), '--data-root',
        str(dataset), '--methods', 'sigmoid', 'eql', '--seeds', '0', '1', '--levels', '0', '2',
        'all', '--draws', '2'
    ]) == 0
    out = json.loads((tmp_path / 'negatives_sweep.json').read_text())
    assert out['seeds'] == {'sigmoid': [0], 'eql': [0, 1]}
    s = out['summary']
    assert s['eql']['2']['n'] == 4 and s['eql']['all']['n'] == 2 and s['sigmoid']['0']['n'] == 2
    # 'all' is the strict file itself
    dets = json.loads((tmp_path / 'sigmoid_seed0' / 'dets.bbox.json').read_text())
    direct = lvis_eval(strict, dets, 'bbox')
    assert s['sigmoid']['all']['AP'] == pytest.approx(direct['AP'], abs=1e-12)
    assert s['sigmoid']['all']['APr'] == pytest.approx(direct['APr'], abs=1e-12)
    # fewer verified negatives only remove false positives: AP cannot fall
    for m in s:
        assert s[m]['0']['AP'] >= s[m]['2']['AP'] - 1e-12 >= s[m]['all']['AP'] - 2e-12
        assert s[m]['0']['AP'] > s[m]['all']['AP']
    assert (tmp_path / 'negatives_sweep.png').stat().st_size > 0
    assert '| EQL, rare+common |' in (tmp_path / 'negatives_sweep.md').read_text()


def test_bad_input(dataset, tmp_path):
    assert rn.main([str(tmp_path), '--data-root', str(dataset), '--levels', 'x']) == 2
    assert rn.main([str(tmp_path), '--data-root', str(tmp_path)]) == 2
    assert rn.main([str(tmp_path), '--data-root', str(dataset)]) == 2  # no runs there
