"""Open Images' box annotations as the challenge defines them: reading, validating and counting.

The files (Open Images Challenge 2019, object detection track; the same layout as Open Images
V4-V6's boxable files):

- box CSV (``challenge-2019-train-detection-bbox.csv``): a header, then one box a row:
  ImageID, Source, LabelName, Confidence, XMin, XMax, YMin, YMax (normalised to [0, 1]),
  IsOccluded, IsTruncated, IsGroupOf, IsDepiction, IsInside; rows of one image together;
- class descriptions (``challenge-2019-classes-description-500.csv``): no header, LabelName (a
  machine id such as ``/m/01g317``) and DisplayName, one class a row; the row order is the label
  order (mmdet's ``OpenImagesDataset``: label i is row i);
- hierarchy (``challenge-2019-label500-hierarchy.json``): nested ``{"LabelName", "Subcategory":
  [...]}`` nodes under a root that is not a class; a class may appear under several parents;
- image metas (``*-metas.pkl``, mmdet's ``tools/misc/get_image_metas.py``): one dict an image,
  in the box file's image order, with ``filename`` and ``ori_shape``.

How the frequency file counts (``count_openimages``), and why: a class's image count is the train
images with at least one of its boxes and its instance count its boxes, **as the detector's loss
sees them**: mmdet's ``OpenImagesDataset`` trains on each box's own label only and a group-of box
(IsGroupOf = 1, one box around several objects of a class) as one box of its class, so neither
parents nor group-of members are added. The challenge's evaluation expands every ground-truth
box to all of its class's ancestors in the hierarchy and scores detections inside a group-of box
as at most one true positive (Open Images Challenge 2019 evaluation protocol; mmdet's
``OpenImagesMetric`` with ``get_supercategory=True``, ``use_group_of=True``);
``expand_parents=True`` counts that way instead (each box also for every ancestor class), for a
user whose training expands labels to parents.
"""
import csv
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: the columns of Open Images' box CSV, in the order mmdet's OpenImagesDataset reads them by
#: position
BOX_COLUMNS = ('ImageID', 'Source', 'LabelName', 'Confidence', 'XMin', 'XMax', 'YMin', 'YMax',
               'IsOccluded', 'IsTruncated', 'IsGroupOf', 'IsDepiction', 'IsInside')


class OpenImagesFormatError(ValueError):
    """A file of an Open Images dataset that does not hold what the challenge format says."""


def _require_file(path: str, what: str) -> None:
    if not path or not osp.isfile(path):
        raise FileNotFoundError(f'Open Images {what} {path!r} does not exist')


def read_class_descriptions(path: str) -> Tuple[List[str], List[str]]:
    """(label names, display names) of the class-description CSV, in its row (label) order."""
    _require_file(path, 'class-description file')
    mids, names = [], []
    with open(path, newline='') as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) < 2 or not row[0].strip():
                raise OpenImagesFormatError(
                    f'{path}, line {n}: expected "LabelName,DisplayName", got {",".join(row)!r}')
            if n == 1 and row[0] == 'LabelName':
                continue  # a header (the challenge's file has none; V6's boxable one neither)
            if row[0] in mids:
                raise OpenImagesFormatError(f'{path}, line {n}: class {row[0]!r} is listed twice')
            mids.append(row[0])
            names.append(row[1])
    if not mids:
        raise OpenImagesFormatError(f'{path}: no classes')
    return mids, names


def read_hierarchy(path: str, mids: Sequence[str]) -> Dict[str, List[str]]:
    """{class label name: its ancestor classes' label names} from the hierarchy JSON, after
    checking that the hierarchy and the class-description file hold the same classes (the root
    excepted): mmdet's dataset builds its class relation matrix from both."""
    _require_file(path, 'hierarchy file')
    try:
        with open(path) as f:
            root = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise OpenImagesFormatError(f'{path}: not readable JSON: {e}') from None
    if not isinstance(root, dict) or 'LabelName' not in root:
        raise OpenImagesFormatError(f'{path}: expected an object with "LabelName" and '
                                    '"Subcategory" (the challenge\'s label hierarchy)')
    known = set(mids)
    ancestors: Dict[str, set] = {}
    unknown = []

    def walk(node, parents):
        for child in node.get('Subcategory', []) or []:
            if not isinstance(child, dict) or 'LabelName' not in child:
                raise OpenImagesFormatError(f'{path}: a "Subcategory" entry has no "LabelName": '
                                            f'{child!r:.80}')
            name = child['LabelName']
            if name not in known:
                unknown.append(name)
            ancestors.setdefault(name, set()).update(parents)
            walk(child, parents + [name])

    walk(root, [])
    if unknown:
        raise OpenImagesFormatError(
            f'{path}: {len(unknown)} label(s) of the hierarchy are not classes of the '
            f'class-description file (first: {unknown[0]!r}); use the hierarchy that belongs to '
            'these classes (the challenge: challenge-2019-label500-hierarchy.json)')
    missing = [m for m in mids if m not in ancestors]
    if missing:
        raise OpenImagesFormatError(
            f'{path}: {len(missing)} class(es) of the class-description file are not in the '
            f'hierarchy (first: {missing[0]!r}); the hierarchy must hold every class')
    return {m: sorted(ancestors[m] & known) for m in mids}


def read_boxes(path: str, mids: Sequence[str]) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(image ids in file order, per-box image index, per-box label) of a box CSV, checked: the
    header is the challenge's, every label is a class of the class-description file, and the rows
    of one image are together (mmdet's reader starts a new image at every change of ImageID)."""
    _require_file(path, 'box annotation file')
    index = {m: i for i, m in enumerate(mids)}
    images: List[str] = []
    seen = set()
    img_idx, labels = [], []
    with open(path, newline='') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header[:len(BOX_COLUMNS)]) != BOX_COLUMNS:
            raise OpenImagesFormatError(
                f'{path}: the header must start with {",".join(BOX_COLUMNS)} (mmdet reads the '
                f'columns by position), got {",".join(header or [])!r:.160}')
        for n, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) < len(BOX_COLUMNS):
                raise OpenImagesFormatError(
                    f'{path}, line {n}: {len(row)} columns, expected {len(BOX_COLUMNS)}')
            label = index.get(row[2])
            if label is None:
                raise OpenImagesFormatError(
                    f'{path}, line {n}: LabelName {row[2]!r} is not a class of the '
                    'class-description file')
            if not images or images[-1] != row[0]:
                if row[0] in seen:
                    raise OpenImagesFormatError(
                        f'{path}, line {n}: the boxes of image {row[0]!r} are not together '
                        '(sort the file by ImageID)')
                seen.add(row[0])
                images.append(row[0])
            img_idx.append(len(images) - 1)
            labels.append(label)
    return images, np.asarray(img_idx, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def check_image_metas(path: str, images: Sequence[str]) -> None:
    """The metas pickle holds one entry an image of the box file, in its order."""
    import pickle
    _require_file(path, 'image-meta file')
    with open(path, 'rb') as f:
        metas = pickle.load(f)
    if not isinstance(metas, (list, tuple)) or len(metas) != len(images):
        got = len(metas) if isinstance(metas, (list, tuple)) else type(metas).__name__
        raise OpenImagesFormatError(
            f'{path}: {got} image metas for the {len(images)} images of the box file; make it '
            "with mmdet's tools/misc/get_image_metas.py from the same box file")
    for i, (meta, img) in enumerate(zip(metas, images)):
        name = osp.splitext(osp.basename(str(meta.get('filename', ''))))[0] \
            if isinstance(meta, dict) else None
        if name != img or 'ori_shape' not in meta:
            raise OpenImagesFormatError(
                f'{path}: meta {i} is for {name!r}, the box file\'s image {i} is {img!r} (each '
                'meta needs "filename" and "ori_shape", in the box file\'s image order)')


def count_openimages(box_file: str,
                     class_file: str,
                     hierarchy_file: str,
                     expand_parents: bool = False) -> dict:
    """Per-class image and instance counts of an Open Images box CSV, in the class-description
    file's order, as ``count_categories`` returns them for LVIS and COCO (id = label + 1, name =
    DisplayName, plus ``label_name``, the class's machine id). How boxes count: the module's
    docstring."""
    from .class_frequency import category_records
    mids, names = read_class_descriptions(class_file)
    ancestors = read_hierarchy(hierarchy_file, mids)
    images, img_idx, labels = read_boxes(box_file, mids)
    num_cats = len(mids)
    if expand_parents:
        index = {m: i for i, m in enumerate(mids)}
        extra_img, extra_lab = [], []
        for c, m in enumerate(mids):
            up = [index[a] for a in ancestors[m]]
            if up:
                sel = img_idx[labels == c]
                for a in up:
                    extra_img.append(sel)
                    extra_lab.append(np.full(len(sel), a, dtype=np.int64))
        if extra_img:
            img_idx = np.concatenate([img_idx] + extra_img)
            labels = np.concatenate([labels] + extra_lab)
    records, num_with_ann = category_records(
        [dict(id=k + 1, name=names[k], label_name=mids[k]) for k in range(num_cats)], img_idx,
        labels)
    return dict(
        categories=records,
        num_images=len(images),
        num_images_with_annotations=num_with_ann,
        parents_counted=bool(expand_parents))


def frequency_groups(freq: Sequence[float], num_groups: int = 5) -> List[np.ndarray]:
    """The EQL paper's Open Images groups (its Table 6): the classes sorted by training frequency,
    most frequent first, cut into ``num_groups`` groups of equal size (500 classes: five of 100;
    AP1 the most frequent, AP5 the fewest); ties keep label order. Returns each group's labels."""
    freq = np.asarray(freq, dtype=np.float64)
    if num_groups < 1 or num_groups > len(freq):
        raise ValueError(f'num_groups must be 1..{len(freq)} (the classes), got {num_groups}')
    order = np.argsort(-freq, kind='stable')
    return [np.sort(g) for g in np.array_split(order, num_groups)]


def validate_openimages(box_file: str, class_file: str, hierarchy_file: str,
                        meta_file: Optional[str]) -> List[str]:
    """Every check of this module on one split; returns the image ids."""
    mids, _ = read_class_descriptions(class_file)
    read_hierarchy(hierarchy_file, mids)
    images, _, _ = read_boxes(box_file, mids)
    if meta_file is not None:
        check_image_metas(meta_file, images)
    return images
