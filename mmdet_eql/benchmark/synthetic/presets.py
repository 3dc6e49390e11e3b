"""Dataset sizes (presets) and the category table: shape x colour (x texture), a Zipf-like tail."""
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'pentagon', 'hexagon', 'star', 'cross')
# hues in degrees: neighbours are look-alikes (red/orange, blue/purple, ...)
COLOURS = (('red', 0), ('orange', 28), ('yellow', 55), ('green', 120), ('teal', 170), ('blue', 220),
           ('purple', 270), ('pink', 320))
TEXTURES = ('solid', 'striped')
# The pre-training set's looks (the benchmark's stand-in for ImageNet; docs/benchmark.md says why):
# none of its shapes is a benchmark shape, and its hues lie halfway between the benchmark's, so
# that with the renderer's jitter of +-6 degrees no pre-training colour is a benchmark colour.
PRETRAIN_SHAPES = ('ellipse', 'semicircle', 'octagon', 'rectangle', 'trapezoid', 'arrow', 'tee',
                   'chevron')
PRETRAIN_COLOURS = (('vermilion', 14), ('amber', 41), ('lime', 88), ('jade', 145), ('cyan', 195),
                    ('indigo', 245), ('violet', 295), ('rose', 340))


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
    # the first benchmark regime measured (docs/benchmark/small.md); the main job uses steep
    'small':
    Preset(
        num_shapes=8,
        num_colours=8,
        num_textures=1,
        max_train_images=300,
        min_train_images=1,
        train_images=900,
        val_images_per_class=6),
    # LVIS's regime (chosen by the baseline-only criteria of docs/benchmark.md): the
    # groups' shares of train instances as in LVIS v1 (rare 0.3 %, common 2.9 %, frequent 96.8 %;
    # LVIS v1: 0.4 / 5.1 / 94.5), the median rare class 1.2e-4 of all instances (small: 8.7e-4),
    # and as many train images as the 900-iteration schedule sees (one epoch of batch 8), so a
    # rare class's few images are each seen about once, as its few positives are a vanishing
    # share of every batch. Same model and cost per iteration as small.
    'steep':
    Preset(
        num_shapes=8,
        num_colours=8,
        num_textures=1,
        max_train_images=3000,
        min_train_images=1,
        train_images=7200,
        val_images_per_class=10,
        objects_per_image=(2, 8)),
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


def pretrain_category_table() -> List[dict]:
    """The 64 looks of the pre-training set (PRETRAIN_SHAPES x PRETRAIN_COLOURS, solid), ids from
    1 in name order; disjoint in shape and hue from every benchmark category."""
    cats = [
        dict(name=f'{colour}_{shape}', shape=shape, colour=colour, hue=hue, texture='solid')
        for shape in PRETRAIN_SHAPES for colour, hue in PRETRAIN_COLOURS
    ]
    cats.sort(key=lambda c: c['name'])
    for i, c in enumerate(cats):
        c['id'] = i + 1
    return cats
