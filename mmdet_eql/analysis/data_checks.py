"""What a user's own data says before training: category names that nearly duplicate another
(a likely misspelling, which would become a class of its own, rare and protected by lambda), and
classes that train and val do not share (a class with train images but no val instance has an AP
that cannot be measured and drops out of its group's mean; a val class absent from train cannot
be learnt). Warnings, each with the class names and counts; the frequency tool and the own-data
leaf writer print them.
"""
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Sequence, Tuple


def _normal(name: str) -> str:
    """Case, separators and a plural ending removed: 'Bolts', 'bolt_' and 'bolt' agree."""
    n = ''.join(ch if ch.isalnum() else ' ' for ch in name.lower()).split()
    n = ' '.join(n)
    for end in ('es', 's'):
        if len(n) > len(end) + 2 and n.endswith(end):
            return n[:-len(end)]
    return n


def _deletions(name: str) -> Iterable[str]:
    yield name
    for i in range(len(name)):
        yield name[:i] + name[i + 1:]


def near_duplicates(categories: Sequence[dict], min_len: int = 5, ratio: int = 10) -> List[tuple]:
    """[(rarer name, its images, the other name, its images, why)]: pairs whose names agree but
    for case, separators or a plural ending ('same but case/plural'), or differ by one letter
    (``why`` 'one letter apart'; names of at least ``min_len`` letters, and the rarer class with
    at most 1/``ratio`` of the other's images: a typo is rare beside the word it misspells, two
    real classes one letter apart usually are not). ``categories``: dicts with name and
    image_count; two with different ``synset`` fields (LVIS's WordNet senses) are distinct by
    definition and never paired. Found through each name's one-letter deletions, so LVIS's 1203
    names take milliseconds."""
    cats = [c for c in categories if c.get('name')]
    out, seen = [], set()
    by_normal = defaultdict(list)
    for c in cats:
        by_normal[_normal(c['name'])].append(c)
    for group in by_normal.values():
        for a in group:
            for b in group:
                if a['name'] < b['name'] and not _distinct_senses(a, b):
                    seen.add((a['name'], b['name']))
                    out.append(_pair(a, b, 'the same but for case, separators or a plural'))
    variants = defaultdict(set)
    for c in cats:
        n = c['name'].lower()
        if len(n) >= min_len:
            for v in set(_deletions(n)):
                variants[v].add(c['name'])
    index = {c['name']: c for c in cats}
    for names in variants.values():
        for a in names:
            for b in names:
                if a >= b or (a, b) in seen:
                    continue
                ca, cb = index[a], index[b]
                if _one_edit(a.lower(), b.lower()) and not _distinct_senses(ca, cb):
                    lo, hi = sorted((ca.get('image_count', 0), cb.get('image_count', 0)))
                    if lo * ratio <= hi:
                        seen.add((a, b))
                        out.append(_pair(ca, cb, 'one letter apart'))
    return sorted(out, key=lambda r: (r[1], r[0]))


def _distinct_senses(a: dict, b: dict) -> bool:
    return bool(a.get('synset') and b.get('synset') and a['synset'] != b['synset'])


def _one_edit(a: str, b: str) -> bool:
    """Levenshtein distance exactly 1."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _pair(a: dict, b: dict, why: str) -> tuple:
    a, b = sorted((a, b), key=lambda c: (c.get('image_count', 0), c['name']))
    return (a['name'], a.get('image_count', 0), b['name'], b.get('image_count', 0), why)


def split_coverage(train_counts: Dict[int, int], val_ann: dict,
                   names: Dict[int, str]) -> Tuple[List[tuple], List[tuple]]:
    """([(name, train images)] of classes with train images and no val instance,
    [(name, val instances)] of val classes without a train image)."""
    val = Counter(a['category_id'] for a in val_ann.get('annotations', []))
    no_val = [(names.get(i, str(i)), n) for i, n in sorted(train_counts.items())
              if n > 0 and val.get(i, 0) == 0]
    no_train = [(names.get(i, str(i)), n) for i, n in sorted(val.items())
                if train_counts.get(i, 0) == 0]
    return no_val, no_train


def _listed(rows: Sequence[tuple], unit: str, limit: int = 8) -> str:
    shown = ', '.join(f'{r[0]!r} ({r[1]} {unit})' for r in rows[:limit])
    return shown + (f', and {len(rows) - limit} more' if len(rows) > limit else '')


def data_warnings(categories: Sequence[dict], val_ann: dict = None) -> List[str]:
    """The warnings for a train split's counted categories (id, name, image_count) and, when
    given, its val annotation file: one line each, empty when the data is clean."""
    out = []
    dups = near_duplicates(categories)
    if dups:
        out.append(f'warning: {len(dups)} category names nearly duplicate another (a likely '
                   'misspelling becomes a class of its own, rare and protected by lambda): ' +
                   '; '.join(f'{a!r} ({na} images) and {b!r} ({nb} images), {why}'
                             for a, na, b, nb, why in dups[:8]) +
                   ('; ...' if len(dups) > 8 else '') + '. Merge them in the annotation files if '
                   'they are one class')
    if val_ann is not None:
        names = {c['id']: c['name'] for c in categories}
        no_val, no_train = split_coverage({c['id']: c['image_count']
                                           for c in categories}, val_ann, names)
        if no_val:
            out.append(
                f'warning: {len(no_val)} classes have train images but no val instance: '
                'their AP cannot be measured (-1) and their group\'s mean leaves them out: ' +
                _listed(no_val, 'train images'))
        if no_train:
            out.append(f'warning: {len(no_train)} val classes have no train image: the model '
                       'cannot learn them: ' + _listed(no_train, 'val instances'))
    return out
