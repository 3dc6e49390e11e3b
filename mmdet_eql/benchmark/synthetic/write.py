"""Writing a split's images and the annotation files (LVIS v1 format, federated negatives)."""
import json
import math
import os
import os.path as osp
from dataclasses import asdict
from typing import List, Optional, Tuple

import numpy as np

from mmdet_eql.utils.class_frequency import count_categories
from .assign import assign_train, assign_val
from .presets import PRESETS, Preset, category_table, check_preset
from .render import place, polygon, render, rgb


def draw_objects(classes: List[int], cats: List[dict], p: Preset, rng: np.random.RandomState,
                 train: bool) -> List[dict]:
    """The objects of one image: the annotated classes, and on train images, with probability
    ``unlabelled_prob``, one more of a frequency-weighted class that nobody annotates."""
    extra = []
    if train and rng.uniform() < p.unlabelled_prob:
        w = np.array([c['target_images'] for c in cats], np.float64)
        extra = [int(rng.choice(len(cats), p=w / w.sum()))]
    spots = place(len(classes) + len(extra), p.image_size, rng, [])
    objects = []
    for j, (ci, (cx, cy, r)) in enumerate(zip(classes + extra, spots)):
        c = cats[ci]
        poly = polygon(c['shape'], cx, cy, r, rng.uniform(0, 2 * math.pi))
        poly = np.clip(poly, 0, p.image_size - 1)
        objects.append(
            dict(
                cat=ci,
                poly=poly,
                rgb=rgb(c['hue'], rng),
                texture=c['texture'],
                r=r,
                labelled=j < len(classes)))
    return objects


def annotations(objects: List[dict], cats: List[dict], image_id: int, first_id: int) -> List[dict]:
    """LVIS annotations (box, polygon, area) of the labelled objects, ids from ``first_id``."""
    out = []
    for ob in objects:
        if not ob['labelled']:
            continue
        poly = np.round(ob['poly'], 2)
        x0, y0 = poly.min(0)
        x1, y1 = poly.max(0)
        xs, ys = poly[:, 0], poly[:, 1]
        area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
        out.append(
            dict(
                id=first_id + len(out),
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
    return out


def write_split(name: str, out_dir: str, img_classes: List[List[int]], cats: List[dict], p: Preset,
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
        objects = draw_objects(classes, cats, p, rng, train)
        img = render(p.image_size, objects, rng)
        file_name = f'{name}/{image_id:06d}.png'
        img.save(osp.join(out_dir, file_name), optimize=False)
        anns += annotations(objects, cats, image_id, first_id=len(anns) + 1)
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


def category_records(cats: List[dict], counts: dict) -> List[dict]:
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


def tail_statistics(records: List[dict]) -> dict:
    """How long the tail is, in the numbers that compare with LVIS (issue 15): classes per
    frequency group, each group's share of all train instances, and the median rare class's
    share (LVIS v1 train: 337 / 461 / 405 classes, 0.4 / 5.1 / 94.5 %, 5.5e-6)."""
    counts = np.array([r['instance_count'] for r in records], np.float64)
    groups = np.array([r['frequency'] for r in records])
    total = max(counts.sum(), 1.0)
    rare = counts[groups == 'r'] / total
    return dict(
        classes={g: int(np.sum(groups == g))
                 for g in 'rcf'},
        instance_share={g: float(counts[groups == g].sum() / total)
                        for g in 'rcf'},
        median_rare_share=float(np.median(rare)) if rare.size else None)


def with_negatives(imgs: List[dict], negatives, rng: np.random.RandomState) -> List[dict]:
    """Image records with ``neg_category_ids``: every absent class ('all') or that many drawn at
    random (LVIS's federated negatives)."""
    out = []
    for im in imgs:
        im = dict(im)
        im.pop('present')
        absent = im.pop('absent')
        if negatives == 'all':
            neg = absent
        else:
            neg = sorted(
                int(x) for x in rng.choice(absent, size=min(negatives, len(absent)),
                                           replace=False)) if absent else []
        im['neg_category_ids'] = neg
        out.append(im)
    return out


def write_annotation_files(out_dir: str, files: dict, info: dict, records: List[dict],
                           freq: dict) -> None:
    """The three LVIS annotation files (sorted keys, compact: byte-identical per seed) and
    class_freq.json, as tools/analysis_tools/class_frequency.py writes it."""
    for fname, (imgs, anns) in files.items():
        with open(osp.join(out_dir, 'annotations', fname), 'w') as f:
            json.dump(
                dict(info=info, licenses=[], images=imgs, annotations=anns, categories=records),
                f,
                sort_keys=True,
                separators=(',', ':'))
    with open(osp.join(out_dir, 'annotations', 'class_freq.json'), 'w') as f:
        json.dump(
            dict(
                source='train.json',
                definition='freq = image_count / num_images_with_annotations',
                **freq),
            f,
            indent=1)
        f.write('\n')


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
    train_classes = assign_train(cats, p, rng)
    val_classes = assign_val(cats, p, rng)
    train_imgs, train_anns = write_split('train', out_dir, train_classes, cats, p, rng, 1, True,
                                         progress)
    val_imgs, val_anns = write_split('val', out_dir, val_classes, cats, p, rng, 1000001, False,
                                     progress)
    # groups from the *train* counts, as LVIS; the same counts make class_freq.json
    freq = count_categories(dict(images=train_imgs, annotations=train_anns, categories=cats))
    records = category_records(cats, freq)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)

    info = dict(
        description=f'mmdet-eql synthetic long-tail dataset, preset {preset}, '
        f'seed {seed}',
        preset=asdict(p),
        seed=seed)
    files = {
        'train.json': (with_negatives(train_imgs, 'all', rng), train_anns),
        'val_lvis.json': (with_negatives(val_imgs, p.federated_negatives, rng), val_anns),
        'val_strict.json': (with_negatives(val_imgs, 'all', rng), val_anns),
    }
    write_annotation_files(out_dir, files, info, records, freq)
    groups = {g: sum(r['frequency'] == g for r in records) for g in 'rcf'}
    return dict(
        classes=len(records),
        groups=groups,
        tail=tail_statistics(records),
        train_images=len(train_imgs),
        train_annotations=len(train_anns),
        val_images=len(val_imgs),
        val_annotations=len(val_anns))
