"""Command-line tools: bad input gives one line naming the file or value, exit code 2."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EVAL = osp.join(ROOT, 'tools', 'analysis_tools', 'eval_lvis.py')
FREQ = osp.join(ROOT, 'tools', 'analysis_tools', 'class_frequency.py')
LVIS_SAMPLE = osp.join(ROOT, 'tests', 'data', 'lvis_v0.5_val_100.json')


def run(*args):
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    assert 'Traceback' not in res.stderr, res.stderr
    return res


def test_eval_lvis_prints_table_and_writes_outputs(tmp_path):
    with open(LVIS_SAMPLE) as f:
        gt = json.load(f)
    dets = [
        dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'], score=0.9)
        for a in gt['annotations']
    ]
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    res = run(EVAL, LVIS_SAMPLE, str(tmp_path / 'dets.json'), '--out-dir', str(tmp_path / 'o'))
    assert res.returncode == 0, res.stderr
    assert 'bbox     100.0' in res.stdout  # ground truth as detections: AP 100
    per_cat = json.loads((tmp_path / 'o' / 'per_category_ap_bbox.json').read_text())
    assert per_cat[str(gt['annotations'][0]['category_id'])]['AP'] == pytest.approx(1.0)


def test_eval_lvis_protocols_side_by_side(tmp_path):
    """--protocol standard fixed --pooled prints one row per protocol with the pooled column,
    the numbers of lvis_eval, and writes AP-fixed's per-category file beside the standard one."""
    from mmdet_eql.evaluation import lvis_eval
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_evaluation'))
    from test_lvis_eval import make_detections
    with open(LVIS_SAMPLE) as f:
        gt = json.load(f)
    dets = make_detections(gt)
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    res = run(EVAL, LVIS_SAMPLE, str(tmp_path / 'dets.json'), '--protocol', 'standard', 'fixed',
              '--pooled', '--dets-per-cat', '20', '--out-dir', str(tmp_path / 'o'))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ['AP', 'AP50'])
    assert header.split()[-4:] == ['APpool', 'APpool_r', 'APpool_c', 'APpool_f']
    for protocol in ('standard', 'fixed'):
        row = next(line for line in lines if line.startswith(f'bbox {protocol} '))
        want = lvis_eval(gt, dets, 'bbox', protocol=protocol, dets_per_cat=20, pooled=True)
        cells = row.split()[2:]
        assert float(cells[0]) == pytest.approx(100 * want['AP'], abs=0.051)
        assert float(cells[-4]) == pytest.approx(100 * want['APpool'], abs=0.051)
    assert (tmp_path / 'o' / 'per_category_ap_bbox_fixed.json').is_file()
    bad = run(EVAL, LVIS_SAMPLE, str(tmp_path / 'dets.json'), '--protocol', 'fixed',
              '--dets-per-cat', '0')
    assert bad.returncode == 2 and '--dets-per-cat must be at least 1, got 0' in bad.stderr


@pytest.mark.parametrize('case,message', [
    ('missing', 'is neither a file nor a prefix'),
    ('other_dataset', 'image_id 123456789, which the ground truth does not contain'),
    ('not_json', 'is not valid JSON'),
])
def test_eval_lvis_bad_results(tmp_path, case, message):
    path = tmp_path / 'dets.json'
    if case == 'other_dataset':
        path.write_text(
            json.dumps([dict(image_id=123456789, category_id=1, bbox=[0, 0, 1, 1], score=0.5)]))
    elif case == 'not_json':
        path.write_text('[{"image_id": ')
    res = run(EVAL, LVIS_SAMPLE, str(path))
    assert res.returncode == 2 and message in res.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason='root can write anywhere')
def test_unwritable_output_non_root(tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o500)
    res = run(FREQ, LVIS_SAMPLE, '--out', str(ro / 'x' / 'freq.json'), '--quiet')
    assert res.returncode == 2 and 'cannot write' in res.stderr


def test_unwritable_output_paths(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')  # a file where a directory is needed: unwritable even for root
    res = run(FREQ, LVIS_SAMPLE, '--out', str(blocker / 'freq.json'), '--quiet')
    assert res.returncode == 2 and 'cannot write class-frequency file' in res.stderr
    res = run(EVAL, LVIS_SAMPLE, LVIS_SAMPLE, '--out-dir', str(blocker / 'sub'))
    assert res.returncode == 2 and 'cannot create output directory' in res.stderr


@pytest.mark.parametrize('case,message', [
    ('duplicate_image', 'duplicate image id'),
    ('unknown_category', '1 annotations point at unknown category ids (first: 999999)'),
    ('unknown_image', '1 annotations point at unknown image ids (first: 999999)'),
    ('missing_key', 'not an LVIS annotation file (no "images")'),
    ('empty', 'is empty'),
])
def test_eval_lvis_malformed_ground_truth(tmp_path, case, message):
    gt = json.loads(open(LVIS_SAMPLE).read())
    dets = [
        dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'], score=0.9)
        for a in gt['annotations'][:20]
    ]
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    if case == 'duplicate_image':
        gt['images'].append(dict(gt['images'][0]))
    elif case == 'unknown_category':
        gt['annotations'][0]['category_id'] = 999999
    elif case == 'unknown_image':
        gt['annotations'][0]['image_id'] = 999999
    elif case == 'missing_key':
        del gt['images']
    bad = tmp_path / 'gt.json'
    bad.write_text('' if case == 'empty' else json.dumps(gt))
    res = run(EVAL, str(bad), str(tmp_path / 'dets.json'))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert str(bad) in res.stderr  # the file is named
    assert 'Traceback' not in res.stderr
