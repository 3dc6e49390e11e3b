"""Which classes go in which image: exact train image counts per class, every class in val."""
from typing import List

import numpy as np

from .presets import Preset


def assign_train(cats: List[dict], p: Preset, rng: np.random.RandomState) -> List[List[int]]:
    """Category indices per train image: class c appears in exactly target_images images."""
    lo, hi = p.objects_per_image
    images: List[List[int]] = [[] for _ in range(p.train_images)]
    # most frequent first, so rare classes fill the remaining room
    for ci in sorted(range(len(cats)), key=lambda i: -cats[i]['target_images']):
        room = np.array([hi - len(im) for im in images], dtype=np.float64)
        free = np.flatnonzero(room > 0)
        k = cats[ci]['target_images']
        if len(free) < k:
            raise ValueError('the preset has too little room for its tail')
        w = room[free] / room[free].sum()
        for i in rng.choice(free, size=k, replace=False, p=w):
            images[i].append(ci)
    for im in images:  # images left with too few objects get repeats of their own classes
        while im and len(im) < lo:
            im.append(im[rng.randint(len(im))])
    return [im for im in images if im]


def assign_val(cats: List[dict], p: Preset, rng: np.random.RandomState) -> List[List[int]]:
    lo, hi = p.objects_per_image
    pool = [ci for ci in range(len(cats)) for _ in range(p.val_images_per_class)]
    pool = list(rng.permutation(pool))
    images = []
    while pool:
        k = min(rng.randint(lo, hi + 1), len(pool))
        chosen, rest = [], []
        for ci in pool:
            (chosen if len(chosen) < k and ci not in chosen else rest).append(ci)
        images.append(chosen)
        pool = rest
    return images
