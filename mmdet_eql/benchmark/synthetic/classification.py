"""Generate the benchmark's long-tailed classification set into OUT_DIR.

    python tools/benchmark/make_cls_dataset.py data/longtail_cls_ir100 --imbalance 100

64 classes with the detection benchmark's looks (8 shapes x 8 colours, solid; the small preset's
category table), one object an image on the benchmark's noise background, 32 x 32 px. Train
images per class follow CIFAR-100-LT's exponential profile, n_i = int(max * imbalance ** (-i /
63)), the frequency rank a random permutation of the looks (so a rare class has frequent
look-alikes); val is balanced. Writes OUT_DIR/train.npz and val.npz (images (N, 32, 32, 3)
uint8, labels (N,)), class_freq.json (the class-frequency format: each class's train image count,
f = count / train images) and info.json (the arguments). The same arguments give the same files.

``--looks pretrain --imbalance 1 --size 64``: the balanced pre-training set of the benchmark's
pre-trained regime (tools/benchmark/pretrain_backbone.py makes it): 64 looks whose shapes and
hues are none of the benchmark's (mmdet_eql/benchmark/synthetic/presets.py), as ImageNet's
labels are not LVIS's.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys

import numpy as np

from mmdet_eql.benchmark.synthetic.presets import PRESETS, category_table, pretrain_category_table
from mmdet_eql.benchmark.synthetic.render import background, polygon, rgb
from mmdet_eql.classification.datasets import long_tail_counts
from mmdet_eql.utils.class_frequency import frequency_group

SIZE = 32
#: the sets of looks: the detection benchmark's (the small preset's category table) and the
#: pre-training set's, disjoint from them in shape and hue (synthetic/presets.py)
LOOKS = ('benchmark', 'pretrain')


def render_one(cat: dict, rng: np.random.RandomState, size: int = SIZE) -> np.ndarray:
    """One ``size`` x ``size`` image of one object of ``cat``'s look: random size, position,
    rotation and colour jitter on the benchmark's noise background."""
    from PIL import Image, ImageDraw
    r = rng.uniform(0.28, 0.42) * size
    cx, cy = rng.uniform(r, size - r, 2)
    img = Image.fromarray(background(size, rng))
    draw = ImageDraw.Draw(img)
    pts = [
        tuple(map(float, p)) for p in polygon(cat['shape'], cx, cy, r, rng.uniform(0, 2 * math.pi))
    ]
    draw.polygon(pts, fill=rgb(cat['hue'], rng))
    return np.asarray(img)


def make_set(out_dir: str,
             imbalance: float = 100,
             max_count: int = 300,
             val_per_class: int = 20,
             seed: int = 0,
             progress: bool = True,
             looks: str = 'benchmark',
             size: int = SIZE) -> dict:
    """Writes the set; returns info.json's content."""
    from tqdm import tqdm
    if looks not in LOOKS:
        raise ValueError(f'looks must be one of {LOOKS}, got {looks!r}')
    if size < 16:
        raise ValueError(f'size must be at least 16 px, got {size}')
    rng = np.random.RandomState(seed)
    if looks == 'benchmark':
        cats = category_table(PRESETS['small'], np.random.RandomState(seed))  # 64 solid looks
    else:
        cats = pretrain_category_table()
    counts = long_tail_counts(max_count, len(cats), imbalance)
    if min(counts) < 1:
        raise ValueError(f'--imbalance {imbalance:g} with --max-count {max_count} leaves a class '
                         'without train images')
    rank = rng.permutation(len(cats))  # class k gets the count of rank[k]
    train_counts = [counts[rank[k]] for k in range(len(cats))]
    os.makedirs(out_dir, exist_ok=True)
    for split, per_class in (('train', train_counts), ('val', [val_per_class] * len(cats))):
        labels = np.repeat(np.arange(len(cats)), per_class)
        images = np.stack([
            render_one(cats[k], rng, size)
            for k in tqdm(labels, desc=f'{split}', unit='img', disable=not progress)
        ])
        np.savez_compressed(osp.join(out_dir, f'{split}.npz'), images=images, labels=labels)
    total = sum(train_counts)
    records = [
        dict(
            id=k + 1,
            name=c['name'],
            image_count=n,
            instance_count=n,
            frequency=frequency_group(n),
            freq=n / total) for k, (c, n) in enumerate(zip(cats, train_counts))
    ]
    with open(osp.join(out_dir, 'class_freq.json'), 'w') as f:
        json.dump(
            dict(
                source='train.npz',
                definition='freq = image_count / train images',
                categories=records,
                num_images=total,
                num_images_with_annotations=total), f)
    info = dict(
        imbalance=imbalance,
        max_count=max_count,
        val_per_class=val_per_class,
        seed=seed,
        looks=looks,
        size=size,
        classes=len(cats),
        train_images=total,
        val_images=val_per_class * len(cats))
    with open(osp.join(out_dir, 'info.json'), 'w') as f:
        json.dump(info, f, indent=1)
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--imbalance', type=float, default=100, help='largest / smallest class')
    parser.add_argument('--max-count', type=int, default=300, help='train images of the largest')
    parser.add_argument('--val-per-class', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--looks',
        default='benchmark',
        choices=LOOKS,
        help='benchmark: the detection classes\' looks; pretrain: the pre-training set\'s, '
        'disjoint from them (default: benchmark)')
    parser.add_argument('--size', type=int, default=SIZE, help=f'image side (default {SIZE})')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    for value, flag in ((args.max_count, '--max-count'), (args.val_per_class, '--val-per-class')):
        if value < 1:
            raise SystemExit(f'error: {flag} must be at least 1, got {value}')
    if args.imbalance < 1:
        raise SystemExit(f'error: --imbalance must be at least 1, got {args.imbalance:g}')
    if osp.isfile(osp.join(args.out_dir, 'info.json')):
        raise SystemExit(f'error: {args.out_dir} already holds a set (info.json); remove it or '
                         'pick another folder')
    try:
        info = make_set(args.out_dir, args.imbalance, args.max_count, args.val_per_class, args.seed,
                        not args.quiet, args.looks, args.size)
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    counts = [
        c['image_count']
        for c in json.load(open(osp.join(args.out_dir, 'class_freq.json')))['categories']
    ]
    from mmdet_eql.classification import shot_groups
    groups = shot_groups(counts)
    print(f"{info['classes']} classes, {info['train_images']} train images ({max(counts)} down "
          f"to {min(counts)}: many / medium / few-shot classes {groups.count('many')} / "
          f"{groups.count('medium')} / {groups.count('few')}), {info['val_images']} val images "
          f'-> {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
