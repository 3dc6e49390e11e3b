"""Open Images' challenge files: counting as the loss sees them (or with parents), the tail ratio
of a lambda, the AP1..AP5 groups, and the bad files named (mmdet_eql/utils/openimages.py)."""
import csv
import json
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest

from mmdet_eql.datasets.synthetic_openimages import CLASSES, FILES, make_openimages_format
from mmdet_eql.utils.openimages import (OpenImagesFormatError, count_openimages, frequency_groups,
                                        validate_openimages)


@pytest.fixture(scope='module')
def oi(tmp_path_factory):
    return make_openimages_format(str(tmp_path_factory.mktemp('oi')), num_train=12, num_val=2)


def paths(root):
    return {k: osp.join(root, v) for k, v in FILES.items()}


def boxes(root):
    with open(paths(root)['train'], newline='') as f:
        rows = list(csv.reader(f))[1:]
    return rows


def test_counts_boxes_as_the_loss_sees_them_and_with_parents(oi):
    p = paths(oi)
    rows = boxes(oi)
    mids = [c[0] for c in CLASSES]
    # by hand: instances = boxes of the class (a group-of box is one), images = distinct images
    want_inst = [sum(r[2] == m for r in rows) for m in mids]
    want_img = [len({r[0] for r in rows if r[2] == m}) for m in mids]
    n_img = len({r[0] for r in rows})
    got = count_openimages(p['train'], p['label_file'], p['hierarchy_file'])
    cats = got['categories']
    assert [c['instance_count'] for c in cats] == want_inst
    assert [c['image_count'] for c in cats] == want_img
    assert [c['name'] for c in cats] == [c[1] for c in CLASSES] and cats[0]['id'] == 1
    assert cats[3]['freq'] == pytest.approx(want_img[3] / n_img)
    assert any(r[10] == '1' for r in rows)  # the data has group-of boxes
    # with parents: a parent also counts its children's boxes and images
    up = count_openimages(p['train'], p['label_file'], p['hierarchy_file'], expand_parents=True)
    for k, (mid, _, parent) in enumerate(CLASSES):
        if parent is None:
            kids = [m for m, _, par in CLASSES if par == mid]
            assert up['categories'][k]['instance_count'] == want_inst[k] + sum(
                want_inst[mids.index(m)] for m in kids)
            assert up['categories'][k]['image_count'] == len(
                {r[0]
                 for r in rows if r[2] == mid or r[2] in kids})
        else:
            assert up['categories'][k]['instance_count'] == want_inst[k]


def test_tool_writes_the_frequency_file_and_the_tail_ratio_of_a_lambda(oi, tmp_path, run_tool):
    p = paths(oi)
    out = tmp_path / 'freq.json'
    res = run_tool('mmdet_eql.analysis.class_frequency', p['train'], '--label-file',
                   p['label_file'], '--hierarchy-file', p['hierarchy_file'], '--out', str(out),
                   '--lambda', '0.2', '--quiet')
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    cats = data['categories']
    protected = [c for c in cats if c['freq'] < 0.2]
    share = sum(c['instance_count'] for c in protected) / sum(c['instance_count'] for c in cats)
    line = next(ln for ln in res.stdout.splitlines() if 'lambda 0.2 (--lambda)' in ln)
    assert f'protects {len(protected)} of 10 classes, {100 * share:.1f} % of instances' in line
    assert 'each box counted for its own class only' in res.stdout
    # the file is a class_freq source like any other
    from mmdet_eql.utils.class_frequency import resolve_class_freq
    cf = resolve_class_freq(str(out))
    assert cf.names == [c[1] for c in CLASSES] and cf.tail_ratio(0.2) == pytest.approx(share)


def test_bad_files_are_named(oi, tmp_path, run_tool):
    p = paths(oi)
    res = run_tool('mmdet_eql.analysis.class_frequency', p['train'], '--label-file',
                   p['label_file'], '--hierarchy-file', str(tmp_path / 'none.json'), '--out',
                   str(tmp_path / 'f.json'))
    assert res.returncode != 0 and 'hierarchy file' in res.stderr and 'none.json' in res.stderr
    res = run_tool('mmdet_eql.analysis.class_frequency', p['train'], '--out',
                   str(tmp_path / 'f.json'))
    assert res.returncode != 0 and '--label-file' in res.stderr
    # an unknown label id: the file, the line and the value
    bad = tmp_path / 'bad.csv'
    rows = [list(csv.reader(open(p['train'], newline='')))]
    rows = rows[0]
    rows[3][2] = '/m/unknown'
    with open(bad, 'w', newline='') as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(OpenImagesFormatError, match=r"bad.csv, line 4: LabelName '/m/unknown'"):
        count_openimages(str(bad), p['label_file'], p['hierarchy_file'])
    # a class outside the hierarchy
    hier = json.load(open(p['hierarchy_file']))
    hier['Subcategory'][1]['Subcategory'].pop()
    small = tmp_path / 'hier.json'
    small.write_text(json.dumps(hier))
    with pytest.raises(
            OpenImagesFormatError,
            match=r"1 class\(es\) .* not in the hierarchy "
            r"\(first: '/m/syn_c7'\)"):
        count_openimages(p['train'], p['label_file'], str(small))
    # a hierarchy label that is no class
    hier['Subcategory'][1]['Subcategory'].append(dict(LabelName='/m/other'))
    small.write_text(json.dumps(hier))
    with pytest.raises(OpenImagesFormatError, match=r"not classes .* \(first: '/m/other'\)"):
        count_openimages(p['train'], p['label_file'], str(small))
    # metas: missing, and out of order
    with pytest.raises(FileNotFoundError, match='image-meta file'):
        validate_openimages(p['train'], p['label_file'], p['hierarchy_file'],
                            str(tmp_path / 'm.pkl'))
    metas = pickle.load(open(p['train_metas'], 'rb'))
    metas[0], metas[1] = metas[1], metas[0]
    pickle.dump(metas, open(tmp_path / 'm.pkl', 'wb'))
    with pytest.raises(OpenImagesFormatError, match="meta 0 is for '.*', the box file's image 0"):
        validate_openimages(p['train'], p['label_file'], p['hierarchy_file'],
                            str(tmp_path / 'm.pkl'))


def test_checked_dataset_names_a_missing_meta_file(oi, tmp_path):
    from mmdet.registry import DATASETS
    root = str(tmp_path / 'copy')
    shutil.copytree(oi, root)
    cfg = dict(
        type='CheckedOpenImagesDataset',
        data_root=root,
        ann_file=FILES['train'],
        label_file=FILES['label_file'],
        hierarchy_file=FILES['hierarchy_file'],
        meta_file=FILES['train_metas'],
        data_prefix=dict(img='OpenImages/train/'),
        pipeline=[])
    ds = DATASETS.build(cfg)
    assert len(ds) == 12 and ds.metainfo['classes'] == [c[1] for c in CLASSES]
    import os
    os.remove(osp.join(root, FILES['train_metas']))
    with pytest.raises(FileNotFoundError, match='image-meta file .*challenge-2019-train-metas'):
        DATASETS.build(cfg)


def test_frequency_groups_are_five_equal_groups_by_frequency():
    freq = np.linspace(0.01, 1, 500)[::-1].copy()  # label 0 the most frequent
    groups = frequency_groups(freq)
    assert [len(g) for g in groups] == [100] * 5
    assert groups[0].tolist() == list(range(100)) and groups[4].tolist() == list(range(400, 500))
    shuffled = np.random.RandomState(0).permutation(500)
    groups = frequency_groups(freq[shuffled])
    assert all(freq[shuffled][groups[0]].min() > freq[shuffled][g].max() for g in groups[1:])
    from mmdet_eql.evaluation.metrics.openimages_group_metric import group_aps
    results = [dict(ap=0.1 * (i % 10), num_gts=0 if i == 3 else 1) for i in range(10)]
    got = group_aps(results, frequency_groups(np.arange(10)[::-1].astype(float), 5))
    # groups: labels (0, 1), (2, 3), ...; label 3 has no ground truth and is left out
    assert got[0] == (pytest.approx(0.05), 2, 2) and got[1] == (pytest.approx(0.2), 1, 2)


def test_group_metric_gives_mmdets_map_and_the_groups_means():
    """On the same results, OpenImagesGroupMetric's AP50 / mAP equal mmdet's OpenImagesMetric's,
    and each AP group is the mean of its classes' APs (written by hand: a class found perfectly
    has AP 1, a class with only a false positive AP 0)."""
    from mmdet.evaluation.metrics import OpenImagesMetric

    from mmdet_eql.evaluation.metrics import OpenImagesGroupMetric
    n = 10
    freq = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]  # label 0 the most frequent
    box = np.array([[10, 10, 50, 50]], dtype=np.float32)
    results = []
    for img in range(3):
        labels = np.array([0, 3, 9], dtype=np.int64)
        ann = dict(
            labels=labels,
            bboxes=np.repeat(box, 3, 0) + 60 * np.arange(3, dtype=np.float32)[:, None],
            gt_is_group_ofs=np.zeros(3, bool))
        dets = [np.zeros((0, 5), np.float32) for _ in range(n)]
        dets[0] = np.hstack([ann['bboxes'][:1], [[0.9]]]).astype(np.float32)  # class 0 found
        dets[3] = np.array([[300, 300, 340, 340, 0.8]], np.float32)  # class 3: a miss
        dets[9] = np.hstack([ann['bboxes'][2:], [[0.7]]]).astype(np.float32)  # class 9 found
        results.append((ann, dets))
    meta = dict(classes=[f'c{i}' for i in range(n)], dataset_type='oid_v6')
    ours = OpenImagesGroupMetric(class_freq=freq, num_groups=5)
    ours.dataset_meta = meta
    theirs = OpenImagesMetric()
    theirs.dataset_meta = meta
    got, want = ours.compute_metrics(results), theirs.compute_metrics(results)
    assert got['AP50'] == want['AP50'] and got['mAP'] == pytest.approx(want['mAP'])
    assert want['mAP'] == pytest.approx(2 / 3, abs=1e-3)
    # groups of two by frequency: (0, 1) -> class 0 only has ground truth: 1; (2, 3) -> 0;
    # (4, 5), (6, 7): no ground truth; (8, 9) -> class 9: 1
    assert got['AP1'] == pytest.approx(1.0) and got['AP2'] == pytest.approx(0.0)
    assert np.isnan(got['AP3']) and np.isnan(got['AP4']) and got['AP5'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='have 9 classes, the dataset 10'):
        bad = OpenImagesGroupMetric(class_freq=freq[:9])
        bad.dataset_meta = meta
        bad.compute_metrics(results)
