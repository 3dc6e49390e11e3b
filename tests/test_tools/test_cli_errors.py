"""Command-line tools: bad input gives one line naming the file or value, exit code 2.

Each tool runs once as a real subprocess here (the table and outputs of eval_lvis.py; its
pickle input; class_frequency.py's groups); the other cases call its ``main`` in this process
(tests/conftest.py), which checks the same arguments, messages and exit codes without paying the
interpreter start and the imports each time."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EVAL = 'mmdet_eql.analysis.eval_lvis'
FREQ = 'mmdet_eql.analysis.class_frequency'
EVAL_SCRIPT = osp.join(ROOT, 'tools', 'analysis_tools', 'eval_lvis.py')
FREQ_SCRIPT = osp.join(ROOT, 'tools', 'analysis_tools', 'class_frequency.py')
LVIS_SAMPLE = osp.join(ROOT, 'tests', 'data', 'lvis_v0.5_val_100.json')


def run_subprocess(*args):
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    assert 'Traceback' not in res.stderr, res.stderr
    return res


def run(*args):
    from conftest import run_tool_in_process
    return run_tool_in_process(*args)


def test_eval_lvis_prints_table_and_writes_outputs(tmp_path):
    with open(LVIS_SAMPLE) as f:
        gt = json.load(f)
    dets = [
        dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'], score=0.9)
        for a in gt['annotations']
    ]
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    res = run_subprocess(EVAL_SCRIPT, LVIS_SAMPLE, str(tmp_path / 'dets.json'), '--out-dir',
                         str(tmp_path / 'o'))
    assert res.returncode == 0, res.stderr
    assert 'bbox     100.0' in res.stdout  # ground truth as detections: AP 100
    per_cat = json.loads((tmp_path / 'o' / 'per_category_ap_bbox.json').read_text())
    assert per_cat[str(gt['annotations'][0]['category_id'])]['AP'] == pytest.approx(1.0)
    # the plot has the JSON's name (it was per_category_ap_bbox_standard.png beside it)
    assert sorted(p.name for p in (tmp_path / 'o').iterdir()) == [
        'per_category_ap_bbox.json', 'per_category_ap_bbox.png'
    ]


def dump_pickle(path, gt, label_of, with_masks=False):
    """The pickle tools/test.py --out writes (mmdet's DumpDetResults), holding the ground truth
    as predictions: boxes x1, y1, x2, y2 as float32 tensors, labels by ``label_of``."""
    import pickle

    import torch
    from pycocotools import mask as mask_utils
    by_image = {}
    for a in gt['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    sizes = {im['id']: (im['height'], im['width']) for im in gt['images']}
    preds = []
    for img_id, anns in by_image.items():
        x, y, w, h = torch.tensor([a['bbox'] for a in anns], dtype=torch.float64).T
        inst = dict(
            bboxes=torch.stack([x, y, x + w, y + h], 1).float(),
            scores=torch.full((len(anns), ), 0.9),
            labels=torch.tensor([label_of[a['category_id']] for a in anns]))
        if with_masks:
            hh, ww = sizes[img_id]
            inst['masks'] = [
                mask_utils.merge(mask_utils.frPyObjects(a['segmentation'], hh, ww)) for a in anns
            ]
            inst['mask_scores'] = inst['scores']
        preds.append(dict(img_id=img_id, pred_instances=inst))
    with open(path, 'wb') as f:
        pickle.dump(preds, f)


def test_eval_lvis_evaluates_the_pickle_of_test_py_out(tmp_path):
    """README: tools/test.py ... --out preds.pkl, then eval_lvis.py GT preds.pkl. Labels are
    numbered as mmdet's LVIS datasets number them (the file's category order): the ground truth
    given back as predictions scores AP 100, boxes and masks."""
    with open(LVIS_SAMPLE) as f:
        gt = json.load(f)
    label_of = {c['id']: k for k, c in enumerate(gt['categories'])}
    dump_pickle(tmp_path / 'preds.pkl', gt, label_of, with_masks=True)
    # in-process: eval_lvis.py reads a pickle of tools/test.py --out as a real subprocess in
    # tests/test_e2e/test_lvis_configs.py (the EQL v1 leaf's run)
    res = run(EVAL, LVIS_SAMPLE, str(tmp_path / 'preds.pkl'), '--iou-type', 'bbox', 'segm')
    assert res.returncode == 0, res.stderr
    assert 'bbox     100.0' in res.stdout and 'segm     100.0' in res.stdout, res.stdout
    # labels off by one (another numbering) cannot pass for the right ones
    dump_pickle(tmp_path / 'shifted.pkl', gt, {
        c: (k + 1) % len(label_of)
        for c, k in label_of.items()
    })
    res = run(EVAL, LVIS_SAMPLE, str(tmp_path / 'shifted.pkl'))
    assert res.returncode == 0 and 'bbox     100.0' not in res.stdout


@pytest.mark.parametrize('case,message', [
    ('text', "is not valid JSON: .*tools/test.py CONFIG CHECKPOINT --cfg-options "
     "test_evaluator.outfile_prefix=PREFIX writes PREFIX.bbox.json"),
    ('other_pickle', 'is a pickle but not the predictions tools/test.py --out writes'),
    ('code_pickle', 'is not a predictions pickle of tools/test.py --out'),
    ('labels', 'predicted label 5000 needs at least 5001 categories'),
])
def test_eval_lvis_explains_what_results_it_takes(tmp_path, case, message):
    import pickle
    import re
    path = tmp_path / 'preds.pkl'
    if case == 'text':
        path.write_text('not json')
    elif case == 'other_pickle':
        path.write_bytes(pickle.dumps({'a': 1}))
    elif case == 'code_pickle':  # the weights-only unpickler refuses anything but data
        path.write_bytes(pickle.dumps(subprocess.Popen))
    else:
        with open(LVIS_SAMPLE) as f:
            gt = json.load(f)
        dump_pickle(path, gt, {c['id']: 5000 for c in gt['categories']})
    res = run(EVAL, LVIS_SAMPLE, str(path))
    assert res.returncode == 2 and re.search(message, res.stderr), res.stderr
    assert str(path) in res.stderr


def test_class_frequency_groups_from_counts_or_from_the_file(tmp_path):
    """On a subset of LVIS (the 100-image sample) its own counts make nearly every class rare;
    --groups file keeps LVIS's own groups, and the tool says which it used."""
    with open(LVIS_SAMPLE) as f:
        gt = json.load(f)
    own = {c['id']: c['frequency'] for c in gt['categories']}
    res = run_subprocess(FREQ_SCRIPT, LVIS_SAMPLE, '--out', str(tmp_path / 'counts.json'),
                         '--quiet')
    assert res.returncode == 0, res.stderr
    assert "frequency groups: from this file's image counts" in res.stdout
    assert 'get another group than the file\'s own "frequency" field' in res.stdout
    assert 'for a subset of LVIS use --groups file' in res.stdout
    counts = json.loads((tmp_path / 'counts.json').read_text())
    assert counts['groups_from'] == 'image counts'
    assert any(c['frequency'] != own[c['id']] for c in counts['categories'])
    res = run(FREQ, LVIS_SAMPLE, '--out', str(tmp_path / 'file.json'), '--quiet', '--groups',
              'file')
    assert res.returncode == 0, res.stderr
    assert "frequency groups: the annotation file's own 'frequency' field" in res.stdout
    kept = json.loads((tmp_path / 'file.json').read_text())
    assert kept['groups_from'] == 'annotation file'
    assert {c['id']: c['frequency'] for c in kept['categories']} == own
    assert [c['freq'] for c in kept['categories']] == [c['freq'] for c in counts['categories']]
    # a file without the field cannot keep it
    for c in gt['categories'][3:]:
        del c['frequency']
    (tmp_path / 'bare.json').write_text(json.dumps(gt))
    res = run(FREQ, str(tmp_path / 'bare.json'), '--out', str(tmp_path / 'x.json'), '--quiet',
              '--groups', 'file')
    assert res.returncode == 2 and '--groups file needs a "frequency" field' in res.stderr


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
