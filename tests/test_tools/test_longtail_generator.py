import filecmp
import json
import os
import os.path as osp

import pytest

from mmdet_eql.benchmark.synthetic import PRESETS, Preset, check_preset, generate

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = 'mmdet_eql.benchmark.synthetic.cli'


def all_files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_gives_byte_identical_files(tmp_path):
    generate(str(tmp_path / 'a'), 'tiny', seed=5, progress=False)
    generate(str(tmp_path / 'b'), 'tiny', seed=5, progress=False)
    generate(str(tmp_path / 'c'), 'tiny', seed=6, progress=False)
    files = all_files(tmp_path / 'a')
    assert files == all_files(tmp_path / 'b') and len(files) > 100
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)
    assert not mismatch and not errors
    assert not filecmp.cmp(
        tmp_path / 'a' / 'annotations' / 'train.json',
        tmp_path / 'c' / 'annotations' / 'train.json',
        shallow=False)


def test_small_preset_statistics(tmp_path):
    summary = generate(str(tmp_path), 'tiny', seed=0, progress=False)
    with open(tmp_path / 'annotations' / 'train.json') as f:
        train = json.load(f)
    cats = train['categories']
    # recount independently: image_count / instance_count / frequency groups
    imgs = {c['id']: set() for c in cats}
    for a in train['annotations']:
        imgs[a['category_id']].add(a['image_id'])
    for c in cats:
        assert c['image_count'] == len(imgs[c['id']])
        n = c['image_count']
        assert c['frequency'] == ('r' if n <= 10 else 'c' if n <= 100 else 'f')
    assert summary['groups']['r'] > 0 and summary['groups']['c'] > 0 and summary['groups']['f'] > 0
    assert min(c['image_count'] for c in cats) >= 1
    with open(tmp_path / 'annotations' / 'val_lvis.json') as f:
        val = json.load(f)
    with open(tmp_path / 'annotations' / 'val_strict.json') as f:
        strict = json.load(f)
    assert {a['category_id'] for a in val['annotations']} == {c['id'] for c in cats}
    for im, im_s in zip(val['images'], strict['images']):
        present = {a['category_id'] for a in val['annotations'] if a['image_id'] == im['id']}
        assert len(im['neg_category_ids']) == min(5, len(cats) - len(present))
        assert set(im_s['neg_category_ids']) == {c['id'] for c in cats} - present
        assert not present & set(im['neg_category_ids'])
    for a in train['annotations']:
        x, y, w, h = a['bbox']
        assert w > 0 and h > 0 and len(a['segmentation'][0]) >= 6
    freq = json.load(open(tmp_path / 'annotations' / 'class_freq.json'))
    assert [c['image_count'] for c in freq['categories']] == [c['image_count'] for c in cats]


def test_tail_statistics_count_instances(tmp_path):
    """The tail's statistics printed at generation, recounted from the annotations; with three
    objects an image at least, images padded with repeats hold a class twice, so instances and
    images differ."""
    summary = generate(
        str(tmp_path), 'tiny', seed=0, progress=False, overrides=dict(objects_per_image=(3, 6)))
    with open(tmp_path / 'annotations' / 'train.json') as f:
        train = json.load(f)
    cats = train['categories']
    assert any(c['instance_count'] > c['image_count'] for c in cats)
    n = {c['id']: 0 for c in cats}
    for a in train['annotations']:
        n[a['category_id']] += 1
    group = {c['id']: c['frequency'] for c in cats}
    tail = summary['tail']
    for g in 'rcf':
        share = sum(v for k, v in n.items() if group[k] == g) / len(train['annotations'])
        assert tail['instance_share'][g] == pytest.approx(share, abs=1e-12)
        assert tail['classes'][g] == summary['groups'][g]
    rare = sorted(v / len(train['annotations']) for k, v in n.items() if group[k] == 'r')
    mid = len(rare) // 2
    median = rare[mid] if len(rare) % 2 else (rare[mid - 1] + rare[mid]) / 2
    assert tail['median_rare_share'] == pytest.approx(median, abs=1e-15)


def test_steep_preset_is_in_lvis_regime():
    """The steep preset's planned tail (train image counts; instances follow them, one object of
    a class per image, up to the padding): the groups' shares near LVIS v1's, far steeper than
    small's."""
    from mmdet_eql.benchmark.synthetic.presets import train_image_counts

    def shares(p):
        counts = train_image_counts(p)
        total = sum(counts)
        rare = [c for c in counts if c <= 10]
        return sum(rare) / total, sorted(rare)[len(rare) // 2] / total

    check_preset(PRESETS['steep'])
    rare_share, median_rare = shares(PRESETS['steep'])
    assert 0.002 < rare_share < 0.004  # LVIS v1 train: 0.004
    assert median_rare < shares(PRESETS['small'])[1] / 5


def test_mmdet_reads_it(tmp_path):
    generate(str(tmp_path), 'tiny', seed=0, progress=False)
    from mmdet_eql.datasets import LVISFormatDataset
    ds = LVISFormatDataset(
        data_root=str(tmp_path) + '/',
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        pipeline=[])
    assert len(ds.metainfo['classes']) == 16
    info = ds[0]
    assert osp.isfile(info['img_path']) and info['instances']


def test_impossible_presets_are_refused():
    p = PRESETS['tiny']
    with pytest.raises(ValueError, match='exceeds'):
        check_preset(Preset(**{**p.__dict__, 'max_train_images': 1000}))
    with pytest.raises(ValueError, match='at most 8 shapes'):
        check_preset(Preset(**{**p.__dict__, 'num_shapes': 9}))
    with pytest.raises(ValueError, match='class occurrences'):
        check_preset(Preset(**{**p.__dict__, 'objects_per_image': (1, 1)}))


def test_cli_refuses_non_empty_directory(tmp_path, run_tool):
    """The command line in-process (tests/conftest.py; the demo runner's end-to-end test runs it
    as a subprocess)."""
    (tmp_path / 'keep.txt').write_text('x')
    res = run_tool(TOOL, str(tmp_path), '--preset', 'tiny', '--quiet')
    assert res.returncode == 2 and 'not empty' in res.stderr and 'Traceback' not in res.stderr
    assert (tmp_path / 'keep.txt').exists()
    res = run_tool(TOOL, str(tmp_path), '--preset', 'tiny', '--quiet', '--overwrite')
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / 'keep.txt').exists()
