"""Per-category frequencies of an LVIS- or COCO-format annotation file, for ``class_freq``.

    python tools/analysis_tools/class_frequency.py ANN_FILE --out OUT.json [--groups counts|file]

OUT.json lists, per category (sorted by id): id, name, image_count, instance_count, frequency
(the LVIS group) and freq = image_count / (images with at least one annotation), the denominator
of the official EQL code. Give OUT.json as ``class_freq`` to ``EQLLoss`` or
``FreqAwareShared2FCBBoxHead``.

The group: ``--groups counts`` (default) derives it from this file's own image counts (r <= 10
images < c <= 100 < f), right for a full train split; ``--groups file`` keeps the ``frequency``
field the annotation file carries (LVIS's own groups, counted on the whole of LVIS train), right
for a subset of LVIS, whose small counts would make most classes rare. The tool says which it
used, and when the two disagree.
"""
import argparse
import os.path as osp
import sys
import time

from mmdet_eql.utils import ToolError, load_json, tool_main, write_json
from mmdet_eql.utils.class_frequency import GROUP_NAMES, count_categories


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('ann_file', help='LVIS- or COCO-format annotation JSON (a train split)')
    parser.add_argument('--out', required=True, help='class-frequency JSON to write')
    parser.add_argument(
        '--groups',
        choices=['counts', 'file'],
        default='counts',
        help="frequency groups from this file's image counts (default), or the annotation "
        "file's own 'frequency' field (LVIS's groups; for a subset of LVIS)")
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    return parser.parse_args(argv)


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    ann = load_json(args.ann_file, what='annotation file', progress=not args.quiet)
    if not isinstance(ann, dict):
        raise ToolError(f'annotation file {args.ann_file!r}: expected a JSON object with '
                        f'images, annotations and categories, got a {type(ann).__name__}')
    try:
        result = count_categories(ann, progress=not args.quiet)
    except ValueError as e:
        raise ToolError(f'annotation file {args.ann_file!r}: {e}') from None
    file_groups = {c['id']: c.get('frequency') for c in ann['categories']}
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
    else:
        print("frequency groups: from this file's image counts, r <= 10 < c <= 100 < f "
              '(--groups counts)')
        if differ:
            print(f'note: {len(differ)} categories get another group than the file\'s own '
                  f'"frequency" field (first: {differ[0]["name"]!r}, {differ[0]["image_count"]} '
                  f'images here -> {differ[0]["frequency"]}, the file says '
                  f'{file_groups[differ[0]["id"]]}); for a subset of LVIS use --groups file')
    result = dict(
        source=osp.basename(args.ann_file),
        definition='freq = image_count / num_images_with_annotations',
        groups_from='annotation file' if args.groups == 'file' else 'image counts',
        **result)
    write_json(result, args.out, what='class-frequency file')
    groups = {g: 0 for g in 'rcf'}
    for c in result['categories']:
        groups[c['frequency']] += 1
    print(f"{len(result['categories'])} categories (" + ', '.join(f'{GROUP_NAMES[g]} {n}'
                                                                  for g, n in groups.items()) +
          f"), {result['num_images']} images, {result['num_images_with_annotations']} with "
          f'annotations -> {args.out} ({time.perf_counter() - t0:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
