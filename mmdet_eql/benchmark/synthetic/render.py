"""Drawing one image: placement, shapes, colours, background, stripes."""
import colorsys
import math
from typing import List, Tuple

import numpy as np


def _outline(kind: str) -> np.ndarray:
    """Unit outlines of the pre-training set's shapes, none of them a benchmark shape."""
    if kind == 'ellipse':
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        return np.stack([np.cos(t), 0.5 * np.sin(t)], 1)
    if kind == 'semicircle':
        t = np.linspace(0, math.pi, 13)
        return np.stack([np.cos(t), np.sin(t) - 0.4], 1)
    if kind == 'octagon':
        t = np.arange(8) * 2 * math.pi / 8 + math.pi / 8
        return np.stack([np.cos(t), np.sin(t)], 1)
    return np.array(
        dict(
            rectangle=[[-1, -0.45], [1, -0.45], [1, 0.45], [-1, 0.45]],
            trapezoid=[[-1, 0.6], [1, 0.6], [0.45, -0.6], [-0.45, -0.6]],
            arrow=[[-1, -0.25], [0.2, -0.25], [0.2, -0.7], [1, 0], [0.2, 0.7], [0.2, 0.25],
                   [-1, 0.25]],
            tee=[[-1, -1], [1, -1], [1, -0.5], [0.25, -0.5], [0.25, 1], [-0.25, 1], [-0.25, -0.5],
                 [-1, -0.5]],
            chevron=[[-1, -0.8], [0, 0.1], [1, -0.8], [1, -0.2], [0, 0.8], [-1, -0.2]])[kind],
        dtype=float)


PRETRAIN_OUTLINES = {
    k: _outline(k)
    for k in ('ellipse', 'semicircle', 'octagon', 'rectangle', 'trapezoid', 'arrow', 'tee',
              'chevron')
}


def polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
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
    elif shape in PRETRAIN_OUTLINES:  # the pre-training set's shapes (presets.PRETRAIN_SHAPES)
        pts = PRETRAIN_OUTLINES[shape]
    else:
        raise ValueError(f'unknown shape {shape!r}')
    if shape not in ('circle', ):
        c, s = math.cos(angle), math.sin(angle)
        pts = pts @ np.array([[c, s], [-s, c]])
    return pts * r + np.array([cx, cy])


def rgb(hue_deg: float, rng: np.random.RandomState) -> Tuple[int, int, int]:
    h = (hue_deg + rng.uniform(-6, 6)) % 360 / 360
    s = rng.uniform(0.65, 0.95)
    v = rng.uniform(0.7, 0.95)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def background(size: int, rng: np.random.RandomState) -> np.ndarray:
    """A grey, low-frequency noise background (HxWx3 uint8)."""
    coarse = rng.uniform(70, 150, (5, 5, 1))
    img = np.kron(coarse, np.ones((size // 4 + 1, size // 4 + 1, 1)))[:size, :size]
    img = img + rng.normal(0, 8, (size, size, 1))
    return np.clip(np.repeat(img, 3, axis=2), 0, 255).astype(np.uint8)


def render(size: int, objects: List[dict], rng: np.random.RandomState):
    from PIL import Image, ImageDraw
    img = Image.fromarray(background(size, rng))
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


def place(n: int, size: int, rng: np.random.RandomState, placed: List[Tuple[float, float, float]]):
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
