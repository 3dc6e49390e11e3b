"""Plots of the long-tail picture: AP per frequency group, per-category AP against train images."""
from typing import Dict, List, Optional, Sequence

import numpy as np

GROUP_COLOURS = {'r': '#d62728', 'c': '#ff7f0e', 'f': '#1f77b4'}
GROUP_LABELS = {'r': 'rare', 'c': 'common', 'f': 'frequent'}


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_group_ap(metrics: Dict[str, Dict[str, dict]],
                  out_file: str,
                  title: str = 'AP by frequency group') -> None:
    """Grouped bars: for each panel (e.g. 'bbox, LVIS-like val'), AP/APr/APc/APf per model.

    Args:
        metrics: {panel: {model: summary dict with AP, APr, APc, APf in [0, 1]}}.
    """
    plt = _plt()
    keys = ['AP', 'APr', 'APc', 'APf']
    panels = list(metrics)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    n_models = max(len(metrics[p]) for p in panels) if panels else 0
    for ax, panel in zip(axes[0], panels):
        models = list(metrics[panel])
        width = 0.8 / max(len(models), 1)
        x = np.arange(len(keys))
        for i, m in enumerate(models):
            vals = [100 * max(metrics[panel][m].get(k, 0), 0) for k in keys]
            bars = ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, label=m)
            if n_models <= 4:  # value labels only while they stay readable
                for b, v in zip(bars, vals):
                    ax.text(
                        b.get_x() + b.get_width() / 2,
                        v + 0.5,
                        f'{v:.1f}',
                        ha='center',
                        va='bottom',
                        fontsize=6)
        ax.set_xticks(x, keys)
        ax.set_title(panel, fontsize=9)
        ax.set_ylabel('AP (%)')
        ax.grid(axis='y', alpha=0.3)
    # one legend below the panels, from the panel with the most models
    fullest = max(range(len(panels)), key=lambda i: len(metrics[panels[i]]))
    handles, labels = axes[0][fullest].get_legend_handles_labels()
    rows = (len(labels) + 4) // 5
    fig.legend(handles, labels, loc='lower center', ncol=min(len(labels), 5), fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04 + 0.05 * rows, 1, 1))
    fig.savefig(out_file, dpi=130)
    plt.close(fig)


def moving_mean(xs: np.ndarray, ys: np.ndarray):
    """(x, mean of y) over a window of an eighth of the points, at least 3 and at most all of
    them (a window longer than the data would make np.convolve's 'valid' output longer, not
    shorter); ``xs`` sorted. Each mean stands at its window's middle x."""
    k = min(max(3, len(xs) // 8), len(xs))
    trend = np.convolve(ys, np.ones(k) / k, mode='valid')
    return xs[k // 2:k // 2 + len(trend)], trend


def plot_per_category_ap(per_category: Dict[str, Dict[int, float]],
                         image_counts: Dict[int, int],
                         groups: Dict[int, str],
                         out_file: str,
                         title: str = 'Per-category AP against training images',
                         markers: Optional[Sequence[str]] = None) -> None:
    """Scatter of per-category AP (y) against train image count (log x), one marker per model,
    coloured by frequency group; a moving mean per model shows the trend."""
    plt = _plt()
    markers = list(markers or ['o', '^', 's', 'D', 'v', 'P'])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (model, aps) in enumerate(per_category.items()):
        cids = [c for c in aps if aps[c] >= 0 and image_counts.get(c, 0) > 0]
        if not cids:
            continue
        xs = np.array([image_counts[c] for c in cids], dtype=float)
        ys = np.array([100 * aps[c] for c in cids])
        cols = [GROUP_COLOURS.get(groups.get(c, 'f'), 'grey') for c in cids]
        ax.scatter(
            xs, ys, c=cols, marker=markers[i % len(markers)], s=18, alpha=0.55, edgecolors='none')
        order = np.argsort(xs)
        tx, trend = moving_mean(xs[order], ys[order])
        ax.plot(tx, trend, label=f'{model} (moving mean)', lw=1.5)
    for g, col in GROUP_COLOURS.items():
        ax.scatter([], [], c=col, label=GROUP_LABELS[g], s=18)
    ax.set_xscale('log')
    ax.set_xlabel('training images of the category')
    ax.set_ylabel('AP (%)')
    ax.axvline(10.5, color='grey', lw=0.5, ls='--')
    ax.axvline(100.5, color='grey', lw=0.5, ls='--')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_file, dpi=130)
    plt.close(fig)


def category_stats(categories: List[dict]):
    """{id: image_count}, {id: group} from LVIS-format categories."""
    from mmdet_eql.utils.class_frequency import frequency_group
    counts = {c['id']: int(c.get('image_count', 0)) for c in categories}
    groups = {c['id']: c.get('frequency') or frequency_group(counts[c['id']]) for c in categories}
    return counts, groups


def plot_grad_ratio(report: dict, out_file: str, title: str = 'Gradient ratio') -> None:
    """Scatter of each class's accumulated positive/negative gradient ratio (log y) against its
    training image count (log x), coloured by frequency group (a GradientRatioMonitorHook report).
    """
    plt = _plt()
    cats = [c for c in report['categories'] if c.get('image_count', 0) > 0]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    floor = 1e-4  # ratios of exactly 0 (a class with no positive RoI yet) drawn at the floor
    for g, col in GROUP_COLOURS.items():
        sel = [c for c in cats if c.get('frequency') == g]
        if sel:
            ax.scatter([c['image_count'] for c in sel], [max(c['ratio'], floor) for c in sel],
                       c=col,
                       s=18,
                       alpha=0.7,
                       edgecolors='none',
                       label=f'{GROUP_LABELS[g]} (mean {np.mean([c["ratio"] for c in sel]):.3g})')
    _finish_ratio_axes(fig, ax, title, out_file)


def plot_grad_ratio_compare(reports: Dict[str, dict],
                            out_file: str,
                            title: str = 'Positive / negative gradient ratio per class') -> None:
    """One panel: each method's per-class gradient ratio (log y) against training images (log x),
    as points and a moving mean (GradientRatioMonitorHook reports)."""
    plt = _plt()
    markers = ['o', '^', 's', 'D', 'v', 'P']
    fig, ax = plt.subplots(figsize=(7, 4.2))
    floor = 1e-4
    for i, (name, rep) in enumerate(reports.items()):
        cats = [c for c in rep['categories'] if c.get('image_count', 0) > 0]
        if not cats:
            continue
        xs = np.array([c['image_count'] for c in cats], dtype=float)
        ys = np.array([max(c['ratio'], floor) for c in cats])
        pts = ax.scatter(xs, ys, marker=markers[i % len(markers)], s=14, alpha=0.45)
        order = np.argsort(xs)
        tx, log_trend = moving_mean(xs[order], np.log(ys[order]))
        ax.plot(tx, np.exp(log_trend), color=pts.get_facecolor()[0][:3], lw=1.5, label=name)
    _finish_ratio_axes(fig, ax, title, out_file)


def _finish_ratio_axes(fig, ax, title: str, out_file: str) -> None:
    """Log-log axes of gradient ratio against training images, saved and closed."""
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.axhline(1.0, color='grey', lw=0.5)
    ax.axvline(10.5, color='grey', lw=0.5, ls='--')
    ax.axvline(100.5, color='grey', lw=0.5, ls='--')
    ax.set_xlabel('training images of the category')
    ax.set_ylabel('accumulated positive / negative gradient')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_file, dpi=130)
    _plt().close(fig)


def plot_negatives_sweep(sweep: Dict[str, Dict[str, Dict[str, float]]],
                         levels: Sequence[str],
                         out_file: str,
                         title: str = 'AP against verified negatives per image') -> None:
    """Two panels (AP, APr): each method a line over the number of verified-absent categories
    listed per val image, with a band of +- one standard deviation over draws and seeds.

    Args:
        sweep: {method: {level: {'AP': mean, 'AP_std': std, 'APr': ..., 'APr_std': ...}}},
            values in [0, 1]; levels as strings ('0', '1', ..., 'all').
        levels: the x positions in order.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    x = np.arange(len(levels))
    for ax, key in zip(axes, ('AP', 'APr')):
        for method, by_level in sweep.items():
            mean = np.array([100 * by_level[lv][key] for lv in levels])
            std = np.array([100 * by_level[lv][f'{key}_std'] for lv in levels])
            ax.plot(x, mean, marker='o', ms=3, label=method)
            ax.fill_between(x, mean - std, mean + std, alpha=0.15)
        ax.set_xticks(x, levels)
        ax.set_xlabel('verified-absent categories listed per val image')
        ax.set_ylabel(f'box {key} (%)')
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=min(len(labels), 4), fontsize=7)
    rows = (len(labels) + 3) // 4
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04 + 0.05 * rows, 1, 1))
    fig.savefig(out_file, dpi=130)
    plt.close(fig)
