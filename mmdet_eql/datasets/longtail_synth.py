"""A synthetic long-tailed instance-segmentation dataset in the LVIS v1 format.

Categories are shape x colour (x texture on larger presets): every rare class has look-alike
frequent classes (the same shape in a neighbouring hue, or a similar shape in the same hue).
Train image counts follow a Zipf-like tail that spans the three LVIS groups (rare 1-10 images,
common 11-100, frequent > 100). The dataset models the properties of LVIS that EQL relies on:

* an extreme tail: most classes have few images, a handful have most of them;
* unlabelled objects in train: some drawn objects carry no annotation (LVIS labels are not
  exhaustive), so the detector learns them as background;
* federated negatives in val: two val annotation files share the images. ``val_lvis.json`` lists
  as ``neg_category_ids`` a few randomly chosen absent classes per image, as LVIS does, so most
  false positives are never counted; ``val_strict.json`` lists every absent class, so all are.

Every category appears in the val images, so APr is measurable. The same preset and seed give
byte-identical files.
"""
import colorsys
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .class_frequency import count_categories

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'pentagon', 'hexagon', 'star', 'cross')
# hues in degrees: neighbours are look-alikes (red/orange, blue/purple, ...)
COLOURS = (('red', 0), ('orange', 28), ('yellow', 55), ('green', 120), ('teal', 170), ('blue', 220),
           ('purple', 270), ('pink', 320))
TEXTURES = ('solid', 'striped')


@dataclass(frozen=True)
class Preset:
    """Sizes of one generated dataset.

    Attributes:
        num_shapes / num_colours / num_textures: categories = their product.
        max_train_images: image count of the most frequent class (head of the tail).
        min_train_images: image count of the rarest class.
        train_images: number of train images; objects per image follow from the counts.
        val_images_per_class: val images that contain each class.
        image_size: square images of this many pixels.
        objects_per_image: (min, max) annotated objects per image.
        unlabelled_prob: probability that a train image gets one extra unannotated object.
        federated_negatives: absent classes listed as negatives per image in val_lvis.json.
    """
    num_shapes: int
    num_colours: int
    num_textures: int
    max_train_images: int
    min_train_images: int
    train_images: int
    val_images_per_class: int
    image_size: int = 128
    objects_per_image: Tuple[int, int] = (2, 6)
    unlabelled_prob: float = 0.2
    federated_negatives: int = 5

    @property
    def num_classes(self) -> int:
        return self.num_shapes * self.num_colours * self.num_textures


PRESETS: Dict[str, Preset] = {
    # a few seconds to generate and a few iterations to train: the test suite's preset
    'tiny':
    Preset(
        num_shapes=4,
        num_colours=4,
        num_textures=1,
        max_train_images=110,
        min_train_images=1,
        train_images=120,
        val_images_per_class=2,
        image_size=64),
    # the README's main job on a 2-core CPU
    'small':
    Preset(
        num_shapes=8,
        num_colours=8,
        num_textures=1,
        max_train_images=300,
        min_train_images=1,
        train_images=900,
        val_images_per_class=6),
    # a CUDA machine: 128 classes, a steeper tail
    'large':
    Preset(
        num_shapes=8,
        num_colours=8,
        num_textures=2,
        max_train_images=1500,
        min_train_images=1,
        train_images=4000,
        val_images_per_class=10,
        image_size=160),
}


def check_preset(p: Preset) -> None:
    """Raises ValueError for parameters no dataset can satisfy."""
    if not (1 <= p.num_shapes <= len(SHAPES) and 1 <= p.num_colours <= len(COLOURS)
            and 1 <= p.num_textures <= len(TEXTURES)):
        raise ValueError(f'at most {len(SHAPES)} shapes, {len(COLOURS)} colours and '
                         f'{len(TEXTURES)} textures; got {p.num_shapes}, {p.num_colours}, '
                         f'{p.num_textures}')
    if not 1 <= p.min_train_images <= p.max_train_images:
        raise ValueError('need 1 <= min_train_images <= max_train_images, got '
                         f'{p.min_train_images} and {p.max_train_images}')
    if p.max_train_images > p.train_images:
        raise ValueError(f'max_train_images={p.max_train_images} exceeds '
                         f'train_images={p.train_images}: a class cannot be in more images than '
                         'there are')
    lo, hi = p.objects_per_image
    if not 1 <= lo <= hi:
        raise ValueError(f'objects_per_image must be (min, max) with 1 <= min <= max, got {lo, hi}')
    total = sum(train_image_counts(p))
    if total > p.train_images * hi:
        raise ValueError(f'the tail needs {total} class occurrences but {p.train_images} images '
                         f'of at most {hi} objects hold {p.train_images * hi}')
    if p.image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {p.image_size}')
    if p.val_images_per_class < 1:
        raise ValueError('val_images_per_class must be >= 1')


def train_image_counts(p: Preset) -> List[int]:
    """Zipf-like image counts, class 0 the most frequent, from max down to min (log-linear in
    rank), so the three LVIS groups all appear."""
    n = p.num_classes
    if n == 1:
        return [p.max_train_images]
    ranks = np.arange(n) / (n - 1)
    counts = np.exp(np.log(p.max_train_images) * (1 - ranks) + np.log(p.min_train_images) * ranks)
    return [int(round(c)) for c in counts]


def category_table(p: Preset, rng: np.random.RandomState) -> List[dict]:
    """Categories with their look; the frequency rank is a random permutation, so the rare
    classes are spread over shapes and colours (each rare class has frequent look-alikes)."""
    looks = [(s, c, t) for t in TEXTURES[:p.num_textures] for s in SHAPES[:p.num_shapes]
             for c in COLOURS[:p.num_colours]]
    order = rng.permutation(len(looks))
    counts = train_image_counts(p)
    cats = []
    for rank, k in enumerate(order):
        shape, (colour, hue), texture = looks[k]
        name = f'{colour}_{shape}' + ('' if texture == 'solid' else f'_{texture}')
        cats.append(
            dict(
                name=name,
                shape=shape,
                colour=colour,
                hue=hue,
                texture=texture,
                target_images=counts[rank]))
    cats.sort(key=lambda c: c['name'])
    for i, c in enumerate(cats):
        c['id'] = i + 1
    return cats


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Vertices (K, 2) of a shape of radius r centred at (cx, cy)."""
    if shape == 'circle':
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif shape in ('square', 'triangle', 'diamond', 'pentagon', 'hexagon'):
        k = dict(square=4, triangle=3, diamond=4, pentagon=5, hexagon=6)[shape]
        off = dict(square=math.pi / 4, diamond=0.0).get(shape, -math.pi / 2)
        t = np.arange(k) * 2 * math.pi / k + off
        pts = np.stack([np.cos(t), np.sin(t)], 1)
        if shape == 'diamond':
            pts[:, 0] *= 0.6
    elif shape == 'star':
        t = np.arange(10) * math.pi / 5 - math.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([np.cos(t) * rad, np.sin(t) * rad], 1)
    elif shape == 'cross':
        a, b = 1.0, 0.35
        pts = np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a],
                        [-b, b], [-a, b], [-a, -b], [-b, -b]])
    else:
        raise ValueError(f'unknown shape {shape!r}')
    if shape not in ('circle', ):
        c, s = math.cos(angle), math.sin(angle)
        pts = pts @ np.array([[c, s], [-s, c]])
    return pts * r + np.array([cx, cy])


def _rgb(hue_deg: float, rng: np.random.RandomState) -> Tuple[int, int, int]:
    h = (hue_deg + rng.uniform(-6, 6)) % 360 / 360
    s = rng.uniform(0.65, 0.95)
    v = rng.uniform(0.7, 0.95)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def _background(size: int, rng: np.random.RandomState) -> np.ndarray:
    """A grey, low-frequency noise background (HxWx3 uint8)."""
    coarse = rng.uniform(70, 150, (5, 5, 1))
    img = np.kron(coarse, np.ones((size // 4 + 1, size // 4 + 1, 1)))[:size, :size]
    img = img + rng.normal(0, 8, (size, size, 1))
    return np.clip(np.repeat(img, 3, axis=2), 0, 255).astype(np.uint8)


def _render(size: int, objects: List[dict], rng: np.random.RandomState):
    from PIL import Image, ImageDraw
    img = Image.fromarray(_background(size, rng))
    draw = ImageDraw.Draw(img)
    for ob in objects:
        pts = [tuple(map(float, p)) for p in ob['poly']]
        draw.polygon(pts, fill=ob['rgb'])
        if ob['texture'] == 'striped':
            # dark stripes inside the polygon
            mask = Image.new('L', (size, size), 0)
            ImageDraw.Draw(mask).polygon(pts, fill=255)
            stripes = Image.new('RGB', (size, size), tuple(c // 3 for c in ob['rgb']))
            smask = np.zeros((size, size), np.uint8)
            period = max(3, int(ob['r'] / 3))
            smask[:, (np.arange(size) // period) % 2 == 0] = 255
            m = np.minimum(np.asarray(mask), smask)
            img.paste(stripes, (0, 0), Image.fromarray(m))
    return img


def _place(n: int, size: int, rng: np.random.RandomState, placed: List[Tuple[float, float, float]]):
    """Up to n (cx, cy, r) circles that do not overlap the placed ones (masks stay exact)."""
    out = []
    for _ in range(n):
        for _attempt in range(50):
            r = rng.uniform(0.07, 0.17) * size
            cx, cy = rng.uniform(r + 1, size - r - 1, 2)
            if all((cx - x)**2 + (cy - y)**2 > (r + q + 1)**2 for x, y, q in placed + out):
                out.append((cx, cy, r))
                break
    return out


def _assign_train(cats: List[dict], p: Preset, rng: np.random.RandomState) -> List[List[int]]:
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


def _assign_val(cats: List[dict], p: Preset, rng: np.random.RandomState) -> List[List[int]]:
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


def _write_split(name: str, out_dir: str, img_classes: List[List[int]], cats: List[dict], p: Preset,
                 rng: np.random.RandomState, image_id0: int, train: bool,
                 progress: bool) -> Tuple[List[dict], List[dict]]:
    os.makedirs(osp.join(out_dir, name), exist_ok=True)
    images, anns = [], []
    it = enumerate(img_classes)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=len(img_classes), desc=f'{name} images', unit='img')
    for k, classes in it:
        image_id = image_id0 + k
        extra = []
        if train and rng.uniform() < p.unlabelled_prob:
            # an object nobody labelled: a frequency-weighted class, drawn but not annotated
            w = np.array([c['target_images'] for c in cats], np.float64)
            extra = [int(rng.choice(len(cats), p=w / w.sum()))]
        spots = _place(len(classes) + len(extra), p.image_size, rng, [])
        objects = []
        for j, (ci, (cx, cy, r)) in enumerate(zip(classes + extra, spots)):
            c = cats[ci]
            poly = _polygon(c['shape'], cx, cy, r, rng.uniform(0, 2 * math.pi))
            poly = np.clip(poly, 0, p.image_size - 1)
            objects.append(
                dict(
                    cat=ci,
                    poly=poly,
                    rgb=_rgb(c['hue'], rng),
                    texture=c['texture'],
                    r=r,
                    labelled=j < len(classes)))
        img = _render(p.image_size, objects, rng)
        file_name = f'{name}/{image_id:06d}.png'
        img.save(osp.join(out_dir, file_name), optimize=False)
        for ob in objects:
            if not ob['labelled']:
                continue
            poly = np.round(ob['poly'], 2)
            x0, y0 = poly.min(0)
            x1, y1 = poly.max(0)
            xs, ys = poly[:, 0], poly[:, 1]
            area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=image_id,
                    category_id=cats[ob['cat']]['id'],
                    bbox=[
                        round(float(x0), 2),
                        round(float(y0), 2),
                        round(float(x1 - x0), 2),
                        round(float(y1 - y0), 2)
                    ],
                    area=round(area, 2),
                    segmentation=[[round(float(v), 2) for v in poly.reshape(-1)]]))
        present = sorted({cats[ob['cat']]['id'] for ob in objects if ob['labelled']})
        unlabelled = sorted({cats[ob['cat']]['id']
                             for ob in objects if not ob['labelled']} - set(present))
        absent = [c['id'] for c in cats if c['id'] not in present and c['id'] not in unlabelled]
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=p.image_size,
                height=p.image_size,
                coco_url=file_name,
                present=present,
                absent=absent,
                not_exhaustive_category_ids=[]))
    return images, anns


def _category_records(cats: List[dict], counts: dict) -> List[dict]:
    """LVIS category records; counts are count_categories() of the train split."""
    by_id = {c['id']: c for c in counts['categories']}
    return [
        dict(
            id=c['id'],
            name=c['name'],
            synset=f"{c['name']}.n.01",
            synonyms=[c['name']],
            frequency=by_id[c['id']]['frequency'],
            image_count=by_id[c['id']]['image_count'],
            instance_count=by_id[c['id']]['instance_count'],
            **{'def': f"a {c['colour']} {c['texture']} {c['shape']}"}) for c in cats
    ]


def generate(out_dir: str,
             preset: str = 'small',
             seed: int = 0,
             progress: bool = True,
             overrides: Optional[dict] = None) -> dict:
    """Writes ``train/``, ``val/`` images and ``annotations/{train,val_lvis,val_strict}.json``.

    Returns:
        dict: a summary (classes per frequency group, images, annotations).
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; known: {sorted(PRESETS)}')
    p = PRESETS[preset]
    if overrides:
        p = Preset(**{**asdict(p), **overrides})
    check_preset(p)
    rng = np.random.RandomState(seed)
    cats = category_table(p, rng)
    train_classes = _assign_train(cats, p, rng)
    val_classes = _assign_val(cats, p, rng)
    train_imgs, train_anns = _write_split('train', out_dir, train_classes, cats, p, rng, 1, True,
                                          progress)
    val_imgs, val_anns = _write_split('val', out_dir, val_classes, cats, p, rng, 1000001, False,
                                      progress)
    # groups from the *train* counts, as LVIS; the same counts make class_freq.json
    freq = count_categories(dict(images=train_imgs, annotations=train_anns, categories=cats))
    records = _category_records(cats, freq)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)

    def finish(imgs, negatives):
        out = []
        for im in imgs:
            im = dict(im)
            im.pop('present')
            absent = im.pop('absent')
            if negatives == 'all':
                neg = absent
            else:
                neg = sorted(
                    int(x) for x in rng.choice(
                        absent, size=min(negatives, len(absent)), replace=False)) if absent else []
            im['neg_category_ids'] = neg
            out.append(im)
        return out

    info = dict(
        description=f'mmdet-eql synthetic long-tail dataset, preset {preset}, '
        f'seed {seed}',
        preset=asdict(p),
        seed=seed)
    files = {
        'train.json': (finish(train_imgs, 'all'), train_anns),
        'val_lvis.json': (finish(val_imgs, p.federated_negatives), val_anns),
        'val_strict.json': (finish(val_imgs, 'all'), val_anns),
    }
    for fname, (imgs, anns) in files.items():
        with open(osp.join(out_dir, 'annotations', fname), 'w') as f:
            json.dump(
                dict(info=info, licenses=[], images=imgs, annotations=anns, categories=records),
                f,
                sort_keys=True,
                separators=(',', ':'))
    # the class-frequency file, as tools/analysis_tools/class_frequency.py writes it
    with open(osp.join(out_dir, 'annotations', 'class_freq.json'), 'w') as f:
        json.dump(
            dict(
                source='train.json',
                definition='freq = image_count / num_images_with_annotations',
                **freq),
            f,
            indent=1)
        f.write('\n')
    groups = {g: sum(r['frequency'] == g for r in records) for g in 'rcf'}
    return dict(
        classes=len(records),
        groups=groups,
        train_images=len(train_imgs),
        train_annotations=len(train_anns),
        val_images=len(val_imgs),
        val_annotations=len(val_anns))
