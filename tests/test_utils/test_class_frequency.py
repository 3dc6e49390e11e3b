import json
import os.path as osp
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest

from mmdet_eql.utils.class_frequency import (count_categories, frequency_group, load_preset,
                                             resolve_class_freq)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'class_frequency.py')
MODULE = 'mmdet_eql.analysis.class_frequency'
LVIS_SAMPLE = osp.join(ROOT, 'tests', 'data', 'lvis_v0.5_val_100.json')


def small_fixture():
    images = [dict(id=i) for i in (1, 2, 3, 4, 5)]  # image 5 has no annotation
    cats = [dict(id=7, name='b'), dict(id=3, name='a'), dict(id=9, name='c')]
    anns = [
        dict(id=k, image_id=im, category_id=c)
        for k, (im, c) in enumerate([(1, 3), (1, 3), (1, 7), (2, 3), (3, 7), (4, 7), (4, 7)])
    ]
    return dict(images=images, annotations=anns, categories=cats)


def test_counts_on_hand_checked_fixture():
    out = count_categories(small_fixture())
    assert out['num_images'] == 5 and out['num_images_with_annotations'] == 4
    rows = {c['name']: c for c in out['categories']}
    assert [c['id'] for c in out['categories']] == [3, 7, 9]
    assert (rows['a']['image_count'], rows['a']['instance_count']) == (2, 3)
    assert (rows['b']['image_count'], rows['b']['instance_count']) == (3, 4)
    assert (rows['c']['image_count'], rows['c']['instance_count']) == (0, 0)
    assert rows['a']['freq'] == 2 / 4 and rows['b']['freq'] == 3 / 4
    assert [frequency_group(n) for n in (1, 10, 11, 100, 101)] == ['r', 'r', 'c', 'c', 'f']


def independent_count(ann):
    imgs, insts = defaultdict(set), defaultdict(int)
    for a in ann['annotations']:
        imgs[a['category_id']].add(a['image_id'])
        insts[a['category_id']] += 1
    with_ann = {a['image_id'] for a in ann['annotations']}
    return imgs, insts, len(with_ann)


def test_tool_on_real_lvis_sample(tmp_path):
    out_file = tmp_path / 'freq.json'
    res = subprocess.run([sys.executable, TOOL, LVIS_SAMPLE, '--out',
                          str(out_file), '--quiet'],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    out = json.loads(out_file.read_text())
    with open(LVIS_SAMPLE) as f:
        ann = json.load(f)
    imgs, insts, with_ann = independent_count(ann)
    assert len(out['categories']) == 1230
    assert out['num_images'] == 100
    assert out['num_images_with_annotations'] == with_ann == 93  # 7 images have no annotation
    for c in out['categories']:
        assert c['image_count'] == len(imgs[c['id']])
        assert c['instance_count'] == insts[c['id']]
        assert c['freq'] == len(imgs[c['id']]) / with_ann
    assert sum(c['instance_count'] for c in out['categories']) == 977
    # the file feeds class_freq
    cf = resolve_class_freq(str(out_file))
    assert len(cf) == 1230 and cf.names[0] == 'acorn'


def test_presets_match_shipped_denominators():
    v1 = load_preset('lvis_v1')
    assert len(v1) == 1203 and v1.groups.count('r') == 337
    assert v1.freq[1] == pytest.approx(364 / 99388)  # air_conditioner
    v05 = load_preset('lvis_v0.5')
    assert len(v05) == 1230
    assert int((v05.freq < 0.00177).sum()) == 915


@pytest.mark.parametrize('mutate,message', [
    (lambda a: a.pop('annotations'), 'no "annotations" field'),
    (lambda a: a['categories'].append(dict(id=3, name='dup')), 'duplicate category id 3'),
    (lambda a: a['annotations'].append(dict(id=99, image_id=42, category_id=3)),
     'unknown image ids'),
    (lambda a: a['annotations'].append(dict(id=99, image_id=1, category_id=5)),
     'unknown category ids'),
])
def test_tool_rejects_malformed_files(tmp_path, mutate, message, run_tool):
    ann = small_fixture()
    mutate(ann)
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(ann))
    res = run_tool(MODULE, str(path), '--out', str(tmp_path / 'o.json'))  # in-process main
    assert res.returncode == 2
    assert message in res.stderr and 'Traceback' not in res.stderr


def test_tool_reports_missing_and_empty_files(tmp_path, run_tool):
    for path, message in ((tmp_path / 'nope.json', 'does not exist'), (tmp_path / 'empty.json',
                                                                       'is empty')):
        if 'empty' in str(path):
            path.write_text('')
        res = run_tool(MODULE, str(path), '--out', str(tmp_path / 'o.json'))  # in-process main
        assert res.returncode == 2 and message in res.stderr


def test_frequencies_from_sequence_are_validated():
    assert np.allclose(resolve_class_freq([0.5, 0.25]).freq, [0.5, 0.25])
    with pytest.raises(ValueError, match='must lie in'):
        resolve_class_freq([0.5, 1.5])


def test_tool_prints_lambda_choices_and_groups_by_share(tmp_path, run_tool):
    """Own data (12 classes, 150 train images down to 1, one class with none): the tool prints
    the lambda for the paper's tail ratio and for a ratio given, each with the classes it protects,
    groups by share of instances on request, and warns of the class without train images."""
    import json
    counts = [150, 80, 40, 20, 10, 6, 4, 3, 2, 1, 1, 0]
    cats = [dict(id=3 * i + 2, name=f'k{i}') for i in range(12)]
    images, anns = [], []
    for i, n in enumerate(counts):
        for j in range(n):
            images.append(dict(id=len(images) + 1, width=64, height=64, file_name=f'{i}_{j}.png'))
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=images[-1]['id'],
                    category_id=cats[i]['id'],
                    bbox=[1, 1, 10, 10],
                    area=100,
                    iscrowd=0))
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    out = tmp_path / 'f.json'
    res = run_tool(MODULE, str(path), '--out', str(out), '--quiet', '--groups', 'share',
                   '--tail-ratio', '0.05')
    assert res.returncode == 0, res.stderr
    assert 'frequency groups: by share of train instances' in res.stdout
    assert "warning: 1 categories have no train image (f = 0: 'k11')" in res.stdout
    assert "tail ratio 9.1 % (the paper's): lambda" in res.stdout
    assert "tail ratio 5 % (--tail-ratio): lambda" in res.stdout
    assert "loss_cls=dict(type='EQLLoss', lambda_=None, tail_ratio=0.091)" in res.stdout
    choices = json.loads(out.read_text())['lambda_choices']
    paper = choices[0]
    assert paper['tail_ratio'] <= 0.091 and 'k0' not in paper['protected']
    assert 'k11' in paper['protected'] and len(paper['protected']) >= 4
