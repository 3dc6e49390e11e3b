"""The per-category AP plot with as few categories as a smoke run scores (one val image scores one
or two categories), and with many: its moving mean never has more points than categories."""
import pytest

from mmdet_eql.visualization.plots import plot_per_category_ap


@pytest.mark.parametrize('num_categories', [1, 2, 3, 40])
def test_per_category_plot_with_few_or_many_categories(num_categories, tmp_path):
    aps = {c: c / (num_categories + 1) for c in range(1, num_categories + 1)}
    counts = {c: 2 * c for c in aps}
    groups = {c: 'r' if c < 5 else 'f' for c in aps}
    aps_unscored = {**aps, 999: -1.0}  # a category without ground truth is left out
    out = tmp_path / 'ap.png'
    plot_per_category_ap({'model': aps_unscored, 'other': aps}, counts, groups, str(out))
    assert out.stat().st_size > 0
