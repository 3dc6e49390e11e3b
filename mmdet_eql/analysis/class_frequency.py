"""Per-category frequencies of an LVIS-, COCO- or Open Images-format train split (class_freq).

    python tools/analysis_tools/class_frequency.py ANN_FILE --out OUT.json [--groups counts|file]
        [--val-file VAL_ANN_FILE]
    python tools/analysis_tools/class_frequency.py BOX_CSV --label-file CLASSES_CSV \
        --hierarchy-file HIERARCHY_JSON --out OUT.json [--expand-parents] [--lambda 3e-4]

OUT.json lists, per category (sorted by id): id, name, image_count, instance_count, frequency
(the LVIS group) and freq = image_count / (images with at least one annotation), the denominator
of the official EQL code. Give OUT.json as ``class_freq`` to ``EQLLoss`` or
``FreqAwareShared2FCBBoxHead``.

The group: ``--groups counts`` (default) derives it from this file's own image counts (r <= 10
images < c <= 100 < f, LVIS's cut-offs), right for a full LVIS-sized train split; ``--groups file``
keeps the ``frequency`` field the annotation file carries (LVIS's own groups), right for a subset
of LVIS; ``--groups share`` cuts by share of instances as LVIS v1's groups hold them (the least
frequent classes with 0.4 % of the instances rare, up to 5.5 % common), right for other data,
whose size makes fixed image counts meaningless. The tool says which it used, and when the file's
own groups disagree.

Then it prints the lambda choices for EQL on these counts (the paper's tail ratio of 9.1 %, the
rare group, the rare and common groups, and ``--tail-ratio``), each with the classes it protects
and the ``loss_cls`` keys that choose it (docs/own_data.md), and warns of classes without train
images, of category names that nearly duplicate another (mmdet_eql/analysis/data_checks.py), and,
with ``--val-file``, of classes that train and val do not share.

Open Images (the challenge's box CSV with its class-description CSV and label hierarchy JSON):
categories in the class-description file's order (id = label + 1, name = DisplayName), counted as
the loss sees the boxes (each box for its own class, a group-of box as one box), or with
``--expand-parents`` as the challenge's evaluation expands them (each box also for its ancestor
classes); mmdet_eql/utils/openimages.py says why. ``--lambda`` prints the tail ratio a lambda gives
(the paper's definition: the share of the train boxes held by the classes it protects).
"""
import argparse
import os.path as osp
import sys
import time

from mmdet_eql.utils import ToolError, load_json, tool_main, write_json
from mmdet_eql.utils.class_frequency import GROUP_NAMES, count_categories


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        'ann_file',
        help='LVIS- or COCO-format annotation JSON, or an Open Images box CSV (a train split)')
    parser.add_argument(
        '--label-file', help="Open Images: the class-description CSV (LabelName,DisplayName)")
    parser.add_argument('--hierarchy-file', help='Open Images: the label hierarchy JSON')
    parser.add_argument(
        '--expand-parents',
        action='store_true',
        help='Open Images: count each box for its ancestor classes too (as the challenge '
        'evaluates), not only for its own class (as the loss trains)')
    parser.add_argument('--out', required=True, help='class-frequency JSON to write')
    parser.add_argument(
        '--val-file',
        help='the val annotation file of the same data: warns of classes with train images but '
        'no val instance (their AP cannot be measured) and of val classes without train images')
    parser.add_argument(
        '--groups',
        choices=['counts', 'file', 'share'],
        default='counts',
        help="frequency groups from this file's image counts with LVIS's cut-offs (default), the "
        "annotation file's own 'frequency' field (for a subset of LVIS), or by share of "
        'instances as in LVIS v1 (for other data)')
    parser.add_argument(
        '--tail-ratio',
        type=float,
        help='also print the lambda that protects this share of the train instances (0-1)')
    parser.add_argument(
        '--lambda',
        dest='lambda_',
        type=float,
        help='also print the classes and the tail ratio this lambda gives')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    return parser.parse_args(argv)


def set_share_groups(categories: list) -> None:
    """Sets each category record's ``frequency`` to its group by share of instances
    (:func:`mmdet_eql.utils.class_frequency.groups_by_share`)."""
    from mmdet_eql.utils.class_frequency import groups_by_share
    groups = groups_by_share([c['freq'] for c in categories],
                             [c['instance_count'] for c in categories])
    for c, g in zip(categories, groups):
        c['frequency'] = g


def frequency_file(counts: dict, source: str, groups_from: str) -> dict:
    """The class-frequency file's content: ``count_categories``'s result with where it came
    from and how f and the groups were made."""
    return dict(
        source=source,
        definition='freq = image_count / num_images_with_annotations',
        groups_from=groups_from,
        **counts)


def report_choices(result: dict, tail_ratio=None, lambda_=None) -> None:
    """Prints (and adds to ``result`` as ``lambda_choices``) the lambdas worth considering, and
    warns of classes without train images."""
    from mmdet_eql.utils.class_frequency import class_freq_from_records, lambda_choices
    cf = class_freq_from_records(result['categories'], None, source='this file')
    empty = [c['name'] for c in result['categories'] if c['image_count'] == 0]
    if empty:
        print(f'warning: {len(empty)} categories have no train image (f = 0: '
              f'{", ".join(map(repr, empty[:5]))}{", ..." if len(empty) > 5 else ""}): they have '
              'no positive to learn from, and any lambda > 0 protects them; check the class list '
              'and that this is the train split')
    rows = lambda_choices(cf, tail_ratio, lambda_)
    n = result['num_images_with_annotations']
    print(f'lambda for EQLLoss (it protects the classes with f_j < lambda; f_j = image_count / '
          f'{n}):')
    for r in rows:
        share = '' if r['tail_ratio'] is None else f', {100 * r["tail_ratio"]:.1f} % of instances'
        names = ', '.join(map(str,
                              r['protected'][:8])) + (', ...' if len(r['protected']) > 8 else '')
        print(f'  {r["choice"]}: lambda {r["lambda_"]:.6g} protects {len(r["protected"])} of '
              f'{len(cf)} classes{share} ({names or "none"}); '
              f'loss_cls=dict(type=\'EQLLoss\', {r["config"]})')
    result['lambda_choices'] = rows


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    if args.tail_ratio is not None and not 0 <= args.tail_ratio <= 1:
        raise ToolError(f'--tail-ratio is a share of the train instances in [0, 1], got '
                        f'{args.tail_ratio}')
    if args.lambda_ is not None and not 0 <= args.lambda_ <= 1:
        raise ToolError(f'--lambda is a frequency threshold in [0, 1], got {args.lambda_}')
    if args.ann_file.endswith('.csv') or args.label_file or args.hierarchy_file:
        result, file_groups = count_openimages_file(args), {}
    else:
        result, file_groups = count_annotation_file(args)
    set_groups(args, result, file_groups)
    val = None
    if args.val_file:
        val = load_json(args.val_file, what='val annotation file', progress=not args.quiet)
        if not isinstance(val, dict) or 'annotations' not in val:
            raise ToolError(f'val annotation file {args.val_file!r}: expected a JSON object with '
                            'annotations')
    from mmdet_eql.analysis.data_checks import data_warnings
    for line in data_warnings(result['categories'], val):
        print(line)
    result = frequency_file(result, osp.basename(args.ann_file), {
        'file': 'annotation file',
        'share': 'share of instances'
    }.get(args.groups, 'image counts'))
    report_choices(result, args.tail_ratio, args.lambda_)
    write_json(result, args.out, what='class-frequency file')
    groups = {g: 0 for g in 'rcf'}
    for c in result['categories']:
        groups[c['frequency']] += 1
    print(f"{len(result['categories'])} categories (" + ', '.join(f'{GROUP_NAMES[g]} {n}'
                                                                  for g, n in groups.items()) +
          f"), {result['num_images']} images, {result['num_images_with_annotations']} with "
          f'annotations -> {args.out} ({time.perf_counter() - t0:.1f} s)')
    return 0


def count_annotation_file(args):
    """The counts of an LVIS- or COCO-format file, and the groups its categories carry."""
    ann = load_json(args.ann_file, what='annotation file', progress=not args.quiet)
    if not isinstance(ann, dict):
        raise ToolError(f'annotation file {args.ann_file!r}: expected a JSON object with '
                        f'images, annotations and categories, got a {type(ann).__name__}')
    try:
        result = count_categories(ann, progress=not args.quiet)
    except ValueError as e:
        raise ToolError(f'annotation file {args.ann_file!r}: {e}') from None
    return result, {c['id']: c.get('frequency') for c in ann['categories']}


def count_openimages_file(args) -> dict:
    """The counts of an Open Images box CSV (mmdet_eql/utils/openimages.py)."""
    from mmdet_eql.utils.openimages import OpenImagesFormatError, count_openimages
    if not (args.label_file and args.hierarchy_file):
        raise ToolError(f'{args.ann_file!r}: an Open Images box CSV needs --label-file (the '
                        'class-description CSV) and --hierarchy-file (the label hierarchy JSON)')
    if args.groups == 'file':
        raise ToolError('--groups file: Open Images files carry no frequency groups; use counts '
                        'or share')
    try:
        result = count_openimages(
            args.ann_file, args.label_file, args.hierarchy_file, expand_parents=args.expand_parents)
    except (OpenImagesFormatError, FileNotFoundError) as e:
        raise ToolError(str(e)) from None
    print('Open Images: ' +
          ('each box counted for its class and every ancestor class '
           '(--expand-parents, as the challenge evaluates)' if args.expand_parents else
           'each box counted for its own class only, a group-of box as one (as the loss trains; '
           '--expand-parents counts parents too)'))
    return result


def set_groups(args, result: dict, file_groups: dict) -> None:
    """Each category's frequency group by ``--groups``, said on the terminal."""
    differ = [
        c for c in result['categories'] if file_groups.get(c['id']) not in (None, c['frequency'])
    ]
    if args.groups == 'file':
        missing = [
            c['id'] for c in result['categories'] if file_groups.get(c['id']) not in GROUP_NAMES
        ]
        if missing:
            raise ToolError(f'annotation file {args.ann_file!r}: --groups file needs a '
                            f'"frequency" field r, c or f on every category; {len(missing)} lack '
                            f'one (first: category id {missing[0]})')
        for c in result['categories']:
            c['frequency'] = file_groups[c['id']]
        print("frequency groups: the annotation file's own 'frequency' field (--groups file)")
    elif args.groups == 'share':
        from mmdet_eql.utils.class_frequency import SHARE_CUTOFFS
        set_share_groups(result['categories'])
        print('frequency groups: by share of train instances, the least frequent classes with '
              f'{100 * SHARE_CUTOFFS[0]:g} % rare, up to {100 * SHARE_CUTOFFS[1]:g} % common, as '
              "LVIS v1's groups hold them (--groups share)")
    else:
        print("frequency groups: from this file's image counts, r <= 10 < c <= 100 < f "
              '(--groups counts)')
        small = result['num_images_with_annotations'] < 10000
        if small:
            print(
                f'note: on {result["num_images_with_annotations"]} images LVIS\'s cut-offs (10 '
                'and 100 images, set for its 100,170) say little; --groups share cuts by share of '
                'instances instead')
        if differ:
            print(f'note: {len(differ)} categories get another group than the file\'s own '
                  f'"frequency" field (first: {differ[0]["name"]!r}, {differ[0]["image_count"]} '
                  f'images here -> {differ[0]["frequency"]}, the file says '
                  f'{file_groups[differ[0]["id"]]}); for a subset of LVIS use --groups file')


if __name__ == '__main__':
    sys.exit(main())
