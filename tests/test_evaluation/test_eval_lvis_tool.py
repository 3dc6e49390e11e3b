"""tools/analysis_tools/eval_lvis.py on a user's own COCO-format data: the frequency file is
matched to the ground truth by id and name (a per-split conversion that numbers the categories
otherwise is refused, the differing entries named), and AP-fixed refuses capped detections unless
--allow-capped."""
import json

import pytest

from mmdet_eql.analysis import eval_lvis

NAMES = ['bolt', 'nut', 'washer']


def own_data(tmp_path, freq_names=NAMES, freq_ids=(1, 2, 3), per_image=None, more_classes=0):
    """A 3-class COCO-format val file (4 images, one object each of 'bolt' on two, 'nut', and
    'washer'), perfect detections (or ``per_image`` on every image), and a frequency file; with
    ``more_classes`` classes without val objects, frequent in train."""
    images = [dict(id=i, width=100, height=100, file_name=f'{i}.jpg') for i in range(1, 5)]
    objects = [(1, 1), (2, 1), (3, 2), (4, 3)]  # (image, category)
    anns = [
        dict(id=k, image_id=i, category_id=c, bbox=[10, 10, 30, 30], area=900, iscrowd=0)
        for k, (i, c) in enumerate(objects, 1)
    ]
    gt = dict(
        images=images,
        annotations=anns,
        categories=[dict(id=i, name=n) for i, n in zip((1, 2, 3), NAMES)])
    dets = [dict(image_id=i, category_id=c, bbox=[10, 10, 30, 30], score=0.9) for i, c in objects]
    if per_image:
        dets = [
            dict(
                image_id=i,
                category_id=1 + j % 3,
                bbox=[10 + j % 5, 10, 30, 30],
                score=1 - j / 1000) for i in range(1, 5) for j in range(per_image)
        ]
    freq = dict(categories=[
        dict(id=i, name=n, image_count=c, instance_count=c, frequency=g)
        for i, n, c, g in zip(freq_ids, freq_names, (2, 40, 400), 'rcf')
    ])
    for k in range(4, 4 + more_classes):
        gt['categories'].append(dict(id=k, name=f'class_{k}'))
        freq['categories'].append(
            dict(id=k, name=f'class_{k}', image_count=500, instance_count=500, frequency='f'))
    paths = {}
    for name, obj in (('gt', gt), ('dets', dets), ('freq', freq)):
        paths[name] = str(tmp_path / f'{name}.json')
        with open(paths[name], 'w') as f:
            json.dump(obj, f)
    return paths


def test_own_groups_matched_by_id_and_name(tmp_path, capsys):
    p = own_data(tmp_path)
    assert eval_lvis.main([p['gt'], p['dets'], '--class-freq', p['freq']]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(r for r in lines if r.split()[:1] == ['AP']).split()
    row = dict(zip(head, next(r for r in lines if r.startswith('bbox ')).split()[1:]))
    assert [row[k] for k in ('AP', 'APr', 'APc', 'APf')] == ['100.0'] * 4


@pytest.mark.parametrize(
    'freq_ids,freq_names,said',
    [((1, 2, 3), ['nut', 'bolt', 'washer'], "id 1: ground truth 'bolt', frequency file 'nut'"),
     ((0, 1, 2), ['bolt', 'nut', 'washer'], "1 ground-truth ids it lacks (3 'washer')")])
def test_a_frequency_file_of_another_numbering_is_refused(tmp_path, capsys, freq_ids, freq_names,
                                                          said):
    """Names swapped under the same ids, and ids shifted by a per-split conversion: either would
    put the groups on the wrong classes (before: APr 0 for perfect rare detections)."""
    p = own_data(tmp_path, freq_names, freq_ids)
    assert eval_lvis.main([p['gt'], p['dets'], '--class-freq', p['freq']]) == 2
    err = capsys.readouterr().err
    assert 'does not match the ground truth by category id and name' in err and said in err


def test_ap_fixed_on_capped_detections_is_refused_unless_allowed(tmp_path, capsys):
    """300 an image for LVIS's 1203 classes (the standard protocol's cap) is refused."""
    p = own_data(tmp_path, per_image=300, more_classes=1200)
    args = [p['gt'], p['dets'], '--class-freq', p['freq'], '--protocol', 'fixed']
    assert eval_lvis.main(args) == 2
    err = capsys.readouterr().err
    assert '4 of the 4 images with detections hold exactly 300' in err and '_ap-fixed' in err
    assert eval_lvis.main(args + ['--allow-capped']) == 0


def test_group_means_say_how_many_classes_they_average(tmp_path, capsys):
    """A rare class without a val instance has no AP: the line under the table says APr averages
    1 of 2 rare classes and names the one left out."""
    p = own_data(tmp_path)
    for name in ('gt', 'freq'):
        with open(p[name]) as f:
            obj = json.load(f)
        obj['categories'].append(
            dict(id=4, name='rivet', image_count=1, instance_count=1, frequency='r'))
        with open(p[name], 'w') as f:
            json.dump(obj, f)
    assert eval_lvis.main([p['gt'], p['dets'], '--class-freq', p['freq']]) == 0
    out = capsys.readouterr().out
    assert "APr averages 1 of 2 rare classes (left out, no val instance: 'rivet'); APc averages " \
        '1 of 1 common classes; APf averages 1 of 1 frequent classes' in out


def test_messy_own_data_is_said_not_absorbed(tmp_path, capsys):
    """'bolts' beside 'bolt' (a plural, 1 image against 30), 'wsher' beside 'washer' (one letter),
    a class with train images and no val instance, a val class without train images: each a
    warning with the names and counts, from the frequency tool and the own-data leaf writer."""
    from mmdet_eql.analysis import class_frequency, own_data
    names = ['bolt', 'bolts', 'washer', 'wsher', 'nut', 'screw']
    counts = [30, 1, 20, 1, 12, 0]  # train images of each (screw: val only)
    images, anns = [], []
    for cid, n in enumerate(counts, 1):
        for _ in range(n):
            images.append(dict(id=len(images) + 1, width=64, height=64, file_name='x.jpg'))
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=len(images),
                    category_id=cid,
                    bbox=[1, 1, 10, 10],
                    area=100,
                    iscrowd=0))
    cats = [dict(id=i, name=n) for i, n in enumerate(names, 1)]
    train = dict(images=images, annotations=anns, categories=cats)
    # val: bolt, washer and screw; no 'nut' (and none of the misspellings)
    val_anns = [
        dict(id=k, image_id=1, category_id=c, bbox=[1, 1, 10, 10], area=100, iscrowd=0)
        for k, c in enumerate((1, 3, 6), 1)
    ]
    val = dict(images=images[:1], annotations=val_anns, categories=cats)
    (tmp_path / 'annotations').mkdir()
    for name, obj in (('train', train), ('val', val)):
        with open(tmp_path / 'annotations' / f'{name}.json', 'w') as f:
            json.dump(obj, f)
    ann = str(tmp_path / 'annotations')
    assert class_frequency.main([
        f'{ann}/train.json', '--out',
        str(tmp_path / 'f.json'), '--val-file', f'{ann}/val.json', '--quiet'
    ]) == 0
    freq_out = capsys.readouterr().out
    assert own_data.main([str(tmp_path), '--out', str(tmp_path / 'leaf.py')]) == 0
    leaf_out = capsys.readouterr().out
    for out in (freq_out, leaf_out):
        assert "'bolts' (1 images) and 'bolt' (30 images), the same but for case, separators " \
            'or a plural' in out
        assert "'wsher' (1 images) and 'washer' (20 images), one letter apart" in out
        assert "3 classes have train images but no val instance" in out
        assert "'nut' (12 train images)" in out
        assert "1 val classes have no train image: the model cannot learn them: 'screw' (1 val " \
            'instances)' in out
