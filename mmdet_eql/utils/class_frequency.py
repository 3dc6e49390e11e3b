"""Class frequencies of a detection dataset: counting, presets, loading and validation.

The frequency of category j is the one the EQL authors use (Tan et al., CVPR 2020):

    f_j = (train images containing category j) / (train images with at least one annotation)

and the LVIS frequency groups come from the train image count: rare 1-10, common 11-100,
frequent > 100. Everything here is pure Python/numpy so the tool and the losses share it.
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

DATA_DIR = osp.join(osp.dirname(osp.dirname(__file__)), 'data')

#: Shipped presets: LVIS train-split category statistics (``data/*_category_stats.json``, counts
#: of the official LVIS v1.0 / v0.5 train annotation files, CC BY 4.0, LVIS project) and the
#: official EQL denominator, the number of train images with at least one annotation.
PRESETS = {
    'lvis_v1': ('lvis_v1_category_stats.json', 99388),
    'lvis_v0.5': ('lvis_v0.5_category_stats.json', 56740),
}

GROUP_NAMES = {'r': 'rare', 'c': 'common', 'f': 'frequent'}

#: Names that differ between the official LVIS annotation files and mmdet's class lists, for the
#: same category: mmdet's ``LVISV05Dataset`` / ``LVISV1Dataset`` fix the files' typo "stero".
NAME_ALIASES = {'speaker_(stero_equipment)': 'speaker_(stereo_equipment)'}


def frequency_group(image_count: int) -> str:
    """LVIS frequency group from a train image count: 'r' (<= 10), 'c' (<= 100), 'f' (> 100)."""
    if image_count <= 10:
        return 'r'
    if image_count <= 100:
        return 'c'
    return 'f'


@dataclass
class ClassFrequency:
    """Per-class frequencies of one dataset, in category order (sorted by id).

    Attributes:
        freq (np.ndarray): (C,) float64, f_j in [0, 1].
        names (list[str] | None): category names, when known.
        ids (list[int] | None): category ids, when known.
        groups (list[str] | None): 'r' / 'c' / 'f' per category, when known.
        image_counts (list[int] | None): train image count per category, when known.
        source (str): where the numbers came from (preset name, file path or 'sequence').
        instance_counts (list[int] | None): train instance count per category, when known (what
            the tail ratio counts).
    """
    freq: np.ndarray
    names: Optional[List[str]] = None
    ids: Optional[List[int]] = None
    groups: Optional[List[str]] = None
    image_counts: Optional[List[int]] = None
    source: str = 'sequence'
    instance_counts: Optional[List[int]] = None

    def __len__(self) -> int:
        return len(self.freq)

    def protected(self, lambda_: float) -> np.ndarray:
        """(C,) bool: the classes EQL protects, f_j < lambda."""
        return self.freq < lambda_

    def tail_ratio(self, lambda_: float) -> float:
        """The share of the train instances held by the classes lambda protects (the EQL paper's
        tail ratio, its Table 2)."""
        counts = self._instance_counts('the tail ratio')
        return float(counts[self.protected(lambda_)].sum() / counts.sum())

    def lambda_for_tail_ratio(self, tail_ratio: float) -> float:
        """The lambda that protects the largest set of least frequent classes (by f, classes of
        equal f together) whose instances are at most ``tail_ratio`` of all train instances: the
        midpoint between the last protected class's f and the next one's (0 when even the least
        frequent class holds more; above every f when all fit)."""
        if isinstance(tail_ratio, bool) or not isinstance(tail_ratio,
                                                          (int, float)) or not 0 <= tail_ratio <= 1:
            raise ValueError(f'tail_ratio must be a number in [0, 1], got {tail_ratio!r}')
        counts = self._instance_counts('lambda from a tail ratio')
        values = np.unique(self.freq)  # sorted
        share = np.array([counts[self.freq <= v].sum() for v in values]) / counts.sum()
        fits = np.flatnonzero(share <= tail_ratio + 1e-12)
        if not len(fits):
            return 0.0
        k = int(fits[-1])
        if k == len(values) - 1:
            return float(np.nextafter(values[-1], np.inf))
        return float((values[k] + values[k + 1]) / 2)

    def _instance_counts(self, what: str) -> np.ndarray:
        if self.instance_counts is None:
            raise ValueError(f'{what} needs each class\'s train instance count, and the class '
                             f'frequencies from {self.source} have none: use a preset or a JSON '
                             'made by tools/analysis_tools/class_frequency.py (instance_count)')
        counts = np.asarray(self.instance_counts, dtype=np.float64)
        if counts.sum() <= 0:
            raise ValueError(f'the class frequencies from {self.source} count no instances')
        return counts

    def count_by_group(self, mask: np.ndarray) -> Dict[str, int]:
        """How many classes of ``mask`` fall in each frequency group (empty if groups unknown)."""
        if self.groups is None:
            return {}
        out = {g: 0 for g in 'rcf'}
        for g, m in zip(self.groups, mask):
            if m:
                out[g] += 1
        return out


def index_annotations(ann: dict, progress: bool = False):
    """Validates an LVIS- or COCO-format dict and indexes its annotations.

    Raises ValueError on missing keys, duplicate image or category ids, and annotations that
    point at unknown images or categories.

    Returns:
        tuple: (category ids in file order, the argsort of those ids, each annotation's index
        into the sorted category ids, each annotation's index into the sorted image ids).
    """
    if not isinstance(ann, dict):
        raise ValueError(f'expected an LVIS- or COCO-format object, got {type(ann).__name__}')
    for key in ('images', 'annotations', 'categories'):
        if key not in ann:
            raise ValueError(f'annotation file has no "{key}" field; expected an LVIS- or '
                             'COCO-format file with images, annotations and categories')
        if not isinstance(ann[key], list):
            raise ValueError(f'"{key}" must be a list, got {type(ann[key]).__name__}')
    cats = ann['categories']
    if not cats:
        raise ValueError('"categories" is empty: there is nothing to count')
    try:
        cat_ids = np.array([c['id'] for c in cats], dtype=np.int64)
        img_ids = np.array([im['id'] for im in ann['images']], dtype=np.int64)
    except KeyError as e:
        raise ValueError(f'a category or image has no {e} field') from None
    for what, ids in (('category', cat_ids), ('image', img_ids)):
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f'duplicate {what} id {int(uniq[counts > 1][0])}')

    anns = ann['annotations']
    if progress:
        from tqdm import tqdm
        anns = tqdm(anns, desc='reading annotations', unit='ann', mininterval=0.5)
    try:
        a_img = np.fromiter((a['image_id'] for a in anns),
                            dtype=np.int64,
                            count=len(ann['annotations']))
        a_cat = np.fromiter((a['category_id'] for a in ann['annotations']),
                            dtype=np.int64,
                            count=len(ann['annotations']))
    except KeyError as e:
        raise ValueError(f'an annotation has no {e} field') from None

    cat_order = np.argsort(cat_ids, kind='stable')
    sorted_cat_ids = cat_ids[cat_order]
    cat_idx = np.searchsorted(sorted_cat_ids, a_cat)
    cat_idx_c = np.minimum(cat_idx, len(sorted_cat_ids) - 1)
    bad = sorted_cat_ids[cat_idx_c] != a_cat
    if bad.any():
        raise ValueError(f'{int(bad.sum())} annotations point at unknown category ids '
                         f'(first: {int(a_cat[bad][0])})')
    sorted_img_ids = np.sort(img_ids)
    img_idx = np.searchsorted(sorted_img_ids, a_img)
    img_idx_c = np.minimum(img_idx, max(len(sorted_img_ids) - 1, 0))
    bad = (sorted_img_ids[img_idx_c] != a_img) if len(sorted_img_ids) else np.ones_like(a_img, bool)
    if bad.any():
        raise ValueError(f'{int(bad.sum())} annotations point at unknown image ids '
                         f'(first: {int(a_img[bad][0])})')

    return cat_ids, cat_order, cat_idx, img_idx


def count_categories(ann: dict, progress: bool = False) -> dict:
    """Counts image_count / instance_count per category of an LVIS- or COCO-format dict.

    Args:
        ann: the loaded annotation file (keys ``images``, ``annotations``, ``categories``).
        progress: show a progress bar over the annotations.

    Returns:
        dict with ``categories`` (list of dicts sorted by id: id, name, image_count,
        instance_count, frequency, freq), ``num_images`` and ``num_images_with_annotations``.

    Raises:
        ValueError: on a malformed file (missing keys, duplicate ids, annotations that point at
            unknown images or categories).
    """
    cat_ids, cat_order, cat_idx, img_idx = index_annotations(ann, progress)
    cats = ann['categories']
    records, num_with_ann = category_records([
        dict(id=int(cats[ci]['id']), name=cats[ci].get('name', str(cats[ci]['id'])))
        for ci in cat_order
    ], img_idx, cat_idx)
    return dict(
        categories=records, num_images=len(ann['images']), num_images_with_annotations=num_with_ann)


def category_records(cats: Sequence[dict], img_idx: np.ndarray,
                     cat_idx: np.ndarray) -> Tuple[List[dict], int]:
    """Each of ``cats`` (dicts, in label order) with its image_count, instance_count, frequency
    (the LVIS group) and freq = image_count / images with at least one annotation, counted from one
    (image index, label) pair an annotation; and that number of images."""
    num_cats = len(cats)
    instance_count = np.bincount(cat_idx, minlength=num_cats)
    # one (image, category) pair per image that contains the category
    pairs = np.unique(np.asarray(img_idx, dtype=np.int64) * num_cats + cat_idx)
    image_count = np.bincount(pairs % num_cats, minlength=num_cats)
    num_with_ann = int(len(np.unique(img_idx)))
    denom = max(num_with_ann, 1)
    records = []
    for k, c in enumerate(cats):
        ic = int(image_count[k])
        records.append(
            dict(
                c,
                image_count=ic,
                instance_count=int(instance_count[k]),
                frequency=frequency_group(ic),
                freq=ic / denom))
    return records, num_with_ann


def class_freq_from_records(records: Sequence[dict], denom: Optional[int],
                            source: str) -> ClassFrequency:
    """A ClassFrequency from category records (id, name, image_count, frequency, and freq when
    ``denom`` is None, else f = image_count / denom)."""
    records = sorted(records, key=lambda c: c['id'])
    if denom is None:
        freq = np.array([float(c['freq']) for c in records], dtype=np.float64)
    else:
        freq = np.array([c['image_count'] / denom for c in records], dtype=np.float64)
    groups = [c.get('frequency') or frequency_group(int(c['image_count'])) for c in records] \
        if all('frequency' in c or 'image_count' in c for c in records) else None
    counts = [int(c['image_count']) for c in records] \
        if all('image_count' in c for c in records) else None
    instances = [int(c['instance_count']) for c in records] \
        if all('instance_count' in c for c in records) else None
    return ClassFrequency(
        freq=freq,
        names=[c.get('name') for c in records],
        ids=[int(c['id']) for c in records],
        groups=groups,
        image_counts=counts,
        source=source,
        instance_counts=instances)


def load_preset(name: str) -> ClassFrequency:
    """A shipped preset ('lvis_v1' or 'lvis_v0.5')."""
    if name not in PRESETS:
        raise ValueError(f'unknown class-frequency preset {name!r}; known presets: '
                         f'{sorted(PRESETS)}, or give a JSON file made by '
                         'tools/analysis_tools/class_frequency.py, or a list of floats')
    fname, denom = PRESETS[name]
    with open(osp.join(DATA_DIR, fname)) as f:
        records = json.load(f)
    return class_freq_from_records(records, denom, source=name)


def load_class_freq_file(path: str) -> ClassFrequency:
    """Reads a class-frequency JSON written by ``tools/analysis_tools/class_frequency.py``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-frequency file {path!r} does not exist')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f'class-frequency file {path!r} is not readable JSON: {e}') from None
    records = data.get('categories') if isinstance(data, dict) else None
    if not isinstance(records, list) or not records:
        raise ValueError(f'class-frequency file {path!r} has no "categories" list; expected the '
                         'output of tools/analysis_tools/class_frequency.py')
    for i, c in enumerate(records):
        if not isinstance(c, dict) or 'id' not in c or 'freq' not in c:
            raise ValueError(f'class-frequency file {path!r}: categories[{i}] needs "id" and '
                             f'"freq" fields, got {c!r:.80}')
    return class_freq_from_records(records, None, source=path)


def resolve_class_freq(source: Union[str, Sequence[float], ClassFrequency]) -> ClassFrequency:
    """Turns a preset name, a JSON path or a sequence of floats into a validated ClassFrequency."""
    if isinstance(source, ClassFrequency):
        cf = source
    elif isinstance(source, str):
        cf = load_preset(source) if source in PRESETS or not (
            source.endswith('.json') or osp.sep in source) else load_class_freq_file(source)
    elif isinstance(source, Iterable):
        values = list(source)
        try:
            freq = np.array([float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError('class_freq given as a sequence must hold numbers') from None
        cf = ClassFrequency(freq=freq, source='sequence')
    else:
        raise TypeError('class_freq must be a preset name, a path to a class-frequency JSON or '
                        f'a sequence of floats, got {type(source).__name__}')
    bad = ~np.isfinite(cf.freq) | (cf.freq < 0) | (cf.freq > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f'class frequencies from {cf.source} must lie in [0, 1]; '
                         f'{int(bad.sum())} do not (first: index {i}, value {cf.freq[i]!r})')
    return cf


def check_num_classes(cf: ClassFrequency, num_classes: int, who: str = 'the model') -> None:
    """Raises ValueError when the frequencies do not have one entry per class."""
    if len(cf) != num_classes:
        raise ValueError(f'class frequencies from {cf.source} have {len(cf)} entries but '
                         f'{who} has num_classes={num_classes}')


def check_class_names(cf: ClassFrequency, names: Sequence[str]) -> None:
    """Raises ValueError when the frequencies' category names differ from the dataset's."""
    if cf.names is None or any(n is None for n in cf.names):
        return
    if len(cf.names) != len(names):
        raise ValueError(f'class frequencies from {cf.source} have {len(cf.names)} categories '
                         f'but the dataset has {len(names)} classes')
    diff = [
        i for i, (a, b) in enumerate(zip(cf.names, names))
        if NAME_ALIASES.get(a, a) != NAME_ALIASES.get(b, b)
    ]
    if diff:
        i = diff[0]
        ours = [NAME_ALIASES.get(a, a) for a in cf.names]
        theirs = [NAME_ALIASES.get(b, b) for b in names]
        if sorted(ours) == sorted(theirs):
            why = ('the same names in another order: the frequencies list the categories by id '
                   '(as every file of this project does), so list the config\'s classes '
                   '(metainfo) in the order of their category ids')
        else:
            why = ('the frequencies are of another dataset (or another version of it, e.g. LVIS '
                   'v0.5 against v1): make them from the train annotation file of this one '
                   '(tools/analysis_tools/class_frequency.py)')
        raise ValueError(
            f'class frequencies from {cf.source} do not match the dataset classes: {len(diff)} '
            f'names differ (first at index {i}: {cf.names[i]!r} vs {names[i]!r}); {why}')


def summarize_protection(cf: ClassFrequency, lambda_: float) -> str:
    """One line: how many classes lambda protects, by frequency group when known."""
    mask = cf.protected(lambda_)
    line = f'lambda={lambda_:g} protects {int(mask.sum())} of {len(cf)} classes'
    by_group = cf.count_by_group(mask)
    if by_group:
        totals = cf.count_by_group(np.ones(len(cf), bool))
        line += ' (' + ', '.join(f'{GROUP_NAMES[g]} {by_group[g]}/{totals[g]}' for g in 'rcf') + ')'
    return line


#: the EQL paper's tail ratio at its LVIS v0.5 lambda (Table 2: lambda 1.76e-3 protects the
#: classes holding 9.1 % of the train instances); the paper recommends 2-10 %
PAPER_TAIL_RATIO = 0.091
#: groups by share of instances (``groups_by_share``): LVIS v1 train's rare classes hold 0.4 % of
#: its instances and rare + common 5.5 % (0.4 + 5.1)
SHARE_CUTOFFS = (0.004, 0.055)


def groups_by_share(freq: Sequence[float],
                    instance_counts: Sequence[int],
                    cutoffs: Tuple[float, float] = SHARE_CUTOFFS) -> List[str]:
    """Frequency groups by share of instances, for data whose size makes LVIS's fixed cut-offs
    (10 and 100 images) meaningless: the least frequent classes (by f, equal f together) holding
    at most ``cutoffs[0]`` of the train instances are rare, those up to ``cutoffs[1]`` common, the
    rest frequent; the shares LVIS v1's own groups hold."""
    freq = np.asarray(freq, dtype=np.float64)
    counts = np.asarray(instance_counts, dtype=np.float64)
    total = max(counts.sum(), 1.0)
    out = []
    for f in freq:
        share = counts[freq <= f].sum() / total  # this class and every less frequent one
        out.append('r' if share <= cutoffs[0] + 1e-12 else 'c' if share <= cutoffs[1] +
                   1e-12 else 'f')
    return out


def lambda_between(cf: ClassFrequency, protect: np.ndarray) -> Optional[float]:
    """The lambda that protects exactly the classes of ``protect`` (the midpoint between their
    largest f and the smallest f of the others), None when no lambda does (a protected class is
    as frequent as an unprotected one)."""
    if not protect.any():
        return 0.0
    top = cf.freq[protect].max()
    if protect.all():
        return float(np.nextafter(top, np.inf))
    rest = cf.freq[~protect].min()
    return float((top + rest) / 2) if top < rest else None


def lambda_choices(cf: ClassFrequency,
                   tail_ratio: Optional[float] = None,
                   lambda_: Optional[float] = None) -> List[dict]:
    """The lambdas worth considering for these frequencies, each with what it protects: the
    paper's tail ratio, the rare group, the rare and common groups (when groups are known),
    ``tail_ratio`` and ``lambda_`` when given. Each: key ('paper', 'tail_ratio', 'rare',
    'rare+common' or 'lambda'), choice
    (its words), lambda_, protected (names or indices), tail_ratio (share of instances in the
    protected classes, when counts are known), config (the ``loss_cls`` keys that choose it)."""
    rows = []
    ratios = [('paper', f'tail ratio {100 * PAPER_TAIL_RATIO:g} % (the paper\'s)', PAPER_TAIL_RATIO)
              ]
    if tail_ratio is not None:
        ratios.append(
            ('tail_ratio', f'tail ratio {100 * tail_ratio:g} % (--tail-ratio)', tail_ratio))
    if cf.instance_counts is not None:
        for key, label, ratio in ratios:
            lam = cf.lambda_for_tail_ratio(ratio)
            rows.append(
                dict(
                    key=key,
                    choice=label,
                    lambda_=lam,
                    config=f'lambda_=None, tail_ratio={ratio:g}'))
    if cf.groups is not None:
        groups = np.array(cf.groups)
        for key, label, which in (('rare', 'rare', ('r', )), ('rare+common', 'rare + common',
                                                              ('r', 'c'))):
            group = np.isin(groups, which)
            lam = lambda_between(cf, group)
            if lam is not None and group.any():
                rows.append(
                    dict(
                        key=key,
                        choice=f'the {label} group',
                        lambda_=lam,
                        config=f'lambda_={lam:.6g}'))
    if lambda_ is not None:
        rows.append(
            dict(
                key='lambda',
                choice=f'lambda {lambda_:g} (--lambda)',
                lambda_=float(lambda_),
                config=f'lambda_={lambda_:g}'))
    for row in rows:
        mask = cf.protected(row['lambda_'])
        row['protected'] = [cf.names[i] if cf.names else i for i in np.flatnonzero(mask)]
        row['tail_ratio'] = cf.tail_ratio(
            row['lambda_']) if cf.instance_counts is not None else None
    return rows
