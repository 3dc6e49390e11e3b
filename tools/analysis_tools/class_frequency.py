"""Per-category frequencies of an LVIS- or COCO-format annotation file, for ``class_freq``.

    python tools/analysis_tools/class_frequency.py ANN_FILE --out OUT.json

OUT.json lists, per category (sorted by id): id, name, image_count, instance_count, frequency
(the LVIS group: r <= 10 images < c <= 100 < f) and freq = image_count / (images with at least one
annotation), the denominator of the official EQL code. Give OUT.json as ``class_freq`` to
``EQLLoss`` or ``FreqAwareShared2FCBBoxHead``.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdet_eql.utils import ToolError, load_json, tool_main, write_json  # noqa: E402
from mmdet_eql.utils.class_frequency import GROUP_NAMES, count_categories  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('ann_file', help='LVIS- or COCO-format annotation JSON (a train split)')
    parser.add_argument('--out', required=True, help='class-frequency JSON to write')
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
    result = dict(
        source=osp.basename(args.ann_file),
        definition='freq = image_count / num_images_with_annotations',
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
