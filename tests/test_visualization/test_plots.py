"""The per-category AP plot with as few categories as a smoke run scores (one val image scores one
or two categories), and with many: its moving mean never has more points than categories. The
group plot's error bars, and the rare-object figure: its rows chosen from the ground truth, its
cells read from the detections."""
import json
import os.path as osp

import pytest

from mmdet_eql.visualization.plots import (plot_grad_ratio, plot_grad_source_compare, plot_group_ap,
                                           plot_per_category_ap, plot_rare_detections,
                                           rare_examples)


@pytest.mark.parametrize('num_categories', [1, 2, 3, 40])
def test_per_category_plot_with_few_or_many_categories(num_categories, tmp_path):
    aps = {c: c / (num_categories + 1) for c in range(1, num_categories + 1)}
    counts = {c: 2 * c for c in aps}
    groups = {c: 'r' if c < 5 else 'f' for c in aps}
    aps_unscored = {**aps, 999: -1.0}  # a category without ground truth is left out
    out = tmp_path / 'ap.png'
    plot_per_category_ap({'model': aps_unscored, 'other': aps}, counts, groups, str(out))
    assert out.stat().st_size > 0


def test_group_plot_draws_the_given_spread_as_error_bars(tmp_path):
    summary = dict(AP=0.4, APr=0.1, APc=0.3, APf=0.6)
    spread = dict(AP=0.01, APr=0.05, APc=0.0, APf=0.02)
    drawn = plot_group_ap({'bbox': {
        'three seeds': summary,
        'one seed': summary
    }},
                          str(tmp_path / 'g.png'),
                          spread={'bbox': {
                              'three seeds': spread
                          }})
    for key in summary:
        height, err = drawn['bbox']['three seeds'][key]
        assert height == pytest.approx(100 * summary[key])
        assert err == pytest.approx(100 * spread[key])
        assert drawn['bbox']['one seed'][key][1] is None  # no spread, no error bar
    assert (tmp_path / 'g.png').stat().st_size > 0


def _shifted(box, dx):
    return [box[0] + dx, box[1], box[2], box[3]]


def test_rare_figure_rows_come_from_the_ground_truth_and_cells_read_detections(tiny_data, tmp_path):
    gt = json.loads(open(osp.join(tiny_data, 'annotations', 'val_lvis.json')).read())
    rows = rare_examples(gt, max_rows=3)
    rare = sorted(c['id'] for c in gt['categories'] if c['frequency'] == 'r')
    with_objects = [c for c in rare if any(a['category_id'] == c for a in gt['annotations'])]
    assert [cat['id'] for cat, _, _ in rows] == with_objects[:3]
    for cat, image, boxes in rows:  # the category's first image, and all its boxes there
        images = [a['image_id'] for a in gt['annotations'] if a['category_id'] == cat['id']]
        assert image['id'] == min(images)
        assert sorted(boxes) == sorted(
            a['bbox'] for a in gt['annotations']
            if a['category_id'] == cat['id'] and a['image_id'] == image['id'])
    cat, image, boxes = rows[0]
    other = next(c['id'] for c in gt['categories'] if c['id'] != cat['id'])
    elsewhere = next(i['id'] for i in gt['images'] if i['id'] != image['id'])
    box = boxes[0]

    def det(category, score, bbox=box, image_id=image['id']):
        return dict(image_id=image_id, category_id=category, bbox=bbox, score=score)

    detections = {
        # called another class first, the rare class second; one better-scored detection of the
        # rare class elsewhere puts this one second in the class's ranking
        'a': [det(other, 0.9),
              det(cat['id'], 0.3),
              det(cat['id'], 0.5, image_id=elsewhere)],
        # the rare class, but beside the object (IoU 1/3): not on it
        'b': [det(cat['id'], 0.8, _shifted(box, box[2] / 2))],
        # on the object, under the score floor
        'c': [det(cat['id'], 5e-5)],
    }
    summary = plot_rare_detections(
        gt, tiny_data, detections, str(tmp_path / 'rare.png'), max_rows=3, min_score=1e-4)
    assert list(summary) == [c['name'] for c, _, _ in rows]
    assert summary[cat['name']]['a'] == (0.3, 2, other)
    assert summary[cat['name']]['b'] == (None, None, None)
    assert summary[cat['name']]['c'] == (None, None, None)
    assert (tmp_path / 'rare.png').stat().st_size > 0
    no_rare = dict(gt, categories=[dict(c, frequency='f') for c in gt['categories']])
    with pytest.raises(ValueError, match='no objects of a rare category'):
        plot_rare_detections(no_rare, tiny_data, detections, str(tmp_path / 'none.png'))


def _report(split: bool):
    cats = []
    for j, (count, group) in enumerate([(2, 'r'), (30, 'c'), (500, 'f'), (800, 'f')]):
        cat = dict(index=j, image_count=count, frequency=group, ratio=0.1 * (j + 1))
        if split:
            cat['background_share'] = 0.9 - 0.2 * j
        cats.append(cat)
    return dict(categories=cats)


def test_gradient_plots_show_the_split_by_source_when_the_report_has_it(tmp_path):
    assert plot_grad_ratio(_report(split=True), str(tmp_path / 'a.png')) == 2
    assert plot_grad_ratio(_report(split=False), str(tmp_path / 'b.png')) == 1
    drawn = plot_grad_source_compare(
        {
            'split': _report(split=True),
            'older report': _report(split=False)
        }, str(tmp_path / 'c.png'))
    assert drawn == ['split']
    for f in 'abc':
        assert (tmp_path / f'{f}.png').stat().st_size > 0
