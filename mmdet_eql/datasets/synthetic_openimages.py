"""A small generated dataset in the Open Images challenge's file formats, for running the Open
Images leaves offline (tests; mmdet_eql.utils.openimages says what each file holds).

``num_classes`` classes (the challenge's 500, or 10 for the unit tests) under a two-level
hierarchy (parents that are classes themselves, as Open Images' "Animal" over "Cat", each over an
equal share of the other classes), drawn long-tailed within each parent; some boxes are group-of
boxes. Images are noise with filled rectangles as objects. Written under ``root``::

    challenge2019/challenge-2019-{train,validation}-detection-bbox.csv
    challenge2019/challenge-2019-classes-description-500.csv   (the challenge's names; 10 here)
    challenge2019/challenge-2019-label500-hierarchy.json
    challenge2019/challenge-2019-{train,validation}-metas.pkl
    challenge2019/challenge-2019-validation-detection-human-imagelabels.csv
    OpenImages/{train,validation}/<ImageID>.jpg
"""
import csv
import json
import os
import os.path as osp
import pickle

import numpy as np

from mmdet_eql.utils.openimages import BOX_COLUMNS


def make_classes(num_classes: int = 10) -> list:
    """(label name, display name, parent label name or None) of each class, in label order: the
    parents first (2, or one in ten classes), then their children, contiguous by parent."""
    k = 2 if num_classes <= 20 else num_classes // 10
    n = num_classes - k
    parents = [(f'/m/syn_p{i}', f'parent {i}', None) for i in range(k)]
    return parents + [(f'/m/syn_c{j}', f'class {j}', f'/m/syn_p{j * k // n}') for j in range(n)]


def class_weights(classes) -> np.ndarray:
    """How often each class is drawn: a parent 0.5, a parent's children 6, 3, 1.5, ... in order
    (long-tailed within each parent)."""
    out, pos = [], {}
    for _, _, parent in classes:
        if parent is None:
            out.append(0.5)
        else:
            pos[parent] = pos.get(parent, -1) + 1
            out.append(6 * 0.5**pos[parent])
    return np.array(out)


#: the unit tests' classes
CLASSES = make_classes(10)
ROOT_LABEL = '/m/0bl9f'  # Open Images' root ("Entity"), not a class
FILES = dict(
    train='challenge2019/challenge-2019-train-detection-bbox.csv',
    val='challenge2019/challenge-2019-validation-detection-bbox.csv',
    label_file='challenge2019/challenge-2019-classes-description-500.csv',
    hierarchy_file='challenge2019/challenge-2019-label500-hierarchy.json',
    train_metas='challenge2019/challenge-2019-train-metas.pkl',
    val_metas='challenge2019/challenge-2019-validation-metas.pkl',
    image_labels='challenge2019/challenge-2019-validation-detection-human-imagelabels.csv')


def hierarchy(classes=CLASSES) -> dict:
    """The classes' hierarchy in the challenge's JSON layout."""
    parents = [c for c in classes if c[2] is None]
    return dict(
        LabelName=ROOT_LABEL,
        Subcategory=[
            dict(
                LabelName=p[0], Subcategory=[dict(LabelName=c[0]) for c in classes if c[2] == p[0]])
            for p in parents
        ])


def make_openimages_format(root: str,
                           num_train: int = 6,
                           num_val: int = 2,
                           seed: int = 0,
                           size=(160, 120),
                           num_classes: int = 10) -> str:
    """Writes the dataset under ``root``; returns ``root`` with a trailing separator."""
    import cv2
    rng = np.random.RandomState(seed)
    classes = make_classes(num_classes)
    num_parents = sum(c[2] is None for c in classes)
    w, h = size
    os.makedirs(osp.join(root, 'challenge2019'), exist_ok=True)
    with open(osp.join(root, FILES['label_file']), 'w', newline='') as f:
        csv.writer(f).writerows([(mid, name) for mid, name, _ in classes])
    with open(osp.join(root, FILES['hierarchy_file']), 'w') as f:
        json.dump(hierarchy(classes), f)
    weights = class_weights(classes)
    probs = weights / weights.sum()
    for split, n, folder in (('train', num_train, 'train'), ('val', num_val, 'validation')):
        os.makedirs(osp.join(root, 'OpenImages', folder), exist_ok=True)
        rows, metas, image_labels = [], [], []
        for k in range(n):
            img_id = f'{split}{k:05d}{rng.randint(16**6):06x}'
            img = rng.randint(0, 80, (h, w, 3)).astype(np.uint8)
            labels = rng.choice(len(classes), 2 + k % 2, p=probs)
            if split == 'val':  # a class of the tail in every val image
                labels[0] = num_parents + (k * 4 + 3) % (len(classes) - num_parents)
            for j, label in enumerate(labels):
                x0, y0 = 0.05 + 0.3 * j, 0.1 + 0.1 * j
                x1, y1 = x0 + 0.28, y0 + 0.6
                color = [int(40 + 20 * label)] * 3
                cv2.rectangle(img, (int(x0 * w), int(y0 * h)), (int(x1 * w), int(y1 * h)), color,
                              -1)
                group_of = int(j == 2)
                rows.append((img_id, 'xclick', classes[label][0], 1, f'{x0:.4f}', f'{x1:.4f}',
                             f'{y0:.4f}', f'{y1:.4f}', 0, 0, group_of, 0, 0))
                image_labels.append((img_id, 'verification', classes[label][0], 1))
            cv2.imwrite(osp.join(root, 'OpenImages', folder, f'{img_id}.jpg'), img)
            metas.append(dict(filename=f'{img_id}.jpg', ori_shape=(h, w, 3)))
        with open(osp.join(root, FILES[split]), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(BOX_COLUMNS)
            writer.writerows(rows)
        with open(osp.join(root, FILES[f'{split}_metas']), 'wb') as f:
            pickle.dump(metas, f)
        if split == 'val':
            with open(osp.join(root, FILES['image_labels']), 'w', newline='') as f:
                writer = csv.writer(f)
                writer.writerow(('ImageID', 'Source', 'LabelName', 'Confidence'))
                writer.writerows(image_labels)
    return osp.join(root, '')
