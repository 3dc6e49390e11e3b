"""Pascal VOC-style XML annotations with your own classes -> the COCO-format files the own-data
path reads (box-only: no segmentation).

    python tools/misc/voc_to_coco.py VOC_ROOT --out-dir VOC_ROOT/annotations [--splits train val]
        [--classes CLASSES.txt]

VOC_ROOT is laid out as VOC is: ``Annotations/ID.xml`` and ``ImageSets/Main/SPLIT.txt`` (one image
id a line); each split becomes ``OUT_DIR/SPLIT.json``, its images named by the XML's
``<filename>`` (under ``JPEGImages/``, the images' folder for own_data_leaf.py's
``--train-images`` / ``--val-images``). The classes are every ``<name>`` met in all splits, sorted,
with ids 1..N (the same list in each file, as the own-data path needs), or the lines of
``--classes`` in their order (a name not in it is refused). Boxes: VOC's 1-based inclusive pixel
corners to COCO's x, y, w, h (x = xmin - 1, w = xmax - xmin + 1, as Detectron2 reads VOC); a
``<difficult>1`` object becomes ``iscrowd: 1``, which mmdet ignores in training and COCO's and
LVIS's evaluation ignore, as VOC's own evaluation does.

mmdet's own ``tools/dataset_converters/pascal_voc.py`` writes VOC's fixed 20 classes only, hence
this converter.
"""
import argparse
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence

from mmdet_eql.utils import ToolError, tool_main, write_json


def read_xml(path: str) -> dict:
    """One VOC XML file: {file_name, width, height, objects: [(name, x1, y1, x2, y2, difficult)]},
    each field checked (the file and field named on error)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ToolError(f'{path}: not a readable XML file ({e})') from None

    def text(node, tag, where):
        found = node.find(tag)
        if found is None or found.text is None or not found.text.strip():
            raise ToolError(f'{path}: {where} has no <{tag}>')
        return found.text.strip()

    def number(node, tag, where):
        value = text(node, tag, where)
        try:
            return float(value)
        except ValueError:
            raise ToolError(f'{path}: {where} <{tag}> is {value!r}, expected a number') from None

    size = root.find('size')
    if size is None:
        raise ToolError(f'{path}: no <size>')
    out = dict(
        file_name=text(root, 'filename', 'the annotation'),
        width=int(number(size, 'width', '<size>')),
        height=int(number(size, 'height', '<size>')),
        objects=[])
    for k, obj in enumerate(root.findall('object')):
        where = f'object {k}'
        box = obj.find('bndbox')
        if box is None:
            raise ToolError(f'{path}: {where} has no <bndbox>')
        x1, y1, x2, y2 = (
            number(box, t, f'{where} <bndbox>') for t in ('xmin', 'ymin', 'xmax', 'ymax'))
        if x2 < x1 or y2 < y1:
            raise ToolError(f'{path}: {where} has xmax < xmin or ymax < ymin ({x1}, {y1}, {x2}, '
                            f'{y2})')
        difficult = obj.find('difficult')
        out['objects'].append((text(obj, 'name', where), x1, y1, x2, y2, difficult is not None
                               and (difficult.text or '0').strip() == '1'))
    return out


def to_coco(records: Sequence[dict], classes: Sequence[str]) -> dict:
    """COCO-format content of ``records`` (:func:`read_xml`) with categories ``classes`` (ids
    1..N in this order)."""
    ids = {n: i for i, n in enumerate(classes, 1)}
    images, anns = [], []
    for img_id, r in enumerate(records, 1):
        images.append(
            dict(id=img_id, file_name=r['file_name'], width=r['width'], height=r['height']))
        for name, x1, y1, x2, y2, difficult in r['objects']:
            w, h = x2 - x1 + 1, y2 - y1 + 1
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img_id,
                    category_id=ids[name],
                    bbox=[x1 - 1, y1 - 1, w, h],
                    area=w * h,
                    iscrowd=int(difficult)))
    return dict(
        images=images, annotations=anns, categories=[dict(id=i, name=n) for n, i in ids.items()])


def convert(root: str,
            splits: Sequence[str],
            classes: Optional[List[str]] = None) -> Dict[str, dict]:
    """{split: COCO-format content} of a VOC-style folder, one class list for every split."""
    records = {}
    for split in splits:
        list_file = osp.join(root, 'ImageSets', 'Main', f'{split}.txt')
        if not osp.isfile(list_file):
            raise ToolError(f'{list_file}: no image list for split {split!r} (one image id a line)')
        with open(list_file) as f:
            image_ids = [line.split()[0] for line in f if line.strip()]
        if not image_ids:
            raise ToolError(f'{list_file}: no image id')
        records[split] = [read_xml(osp.join(root, 'Annotations', f'{i}.xml')) for i in image_ids]
    found = sorted({o[0] for rs in records.values() for r in rs for o in r['objects']})
    if classes is None:
        classes = found
    else:
        unknown = sorted(set(found) - set(classes))
        if unknown:
            raise ToolError(f'{len(unknown)} object names are not in --classes: '
                            f'{", ".join(map(repr, unknown[:8]))}')
    return {split: to_coco(rs, classes) for split, rs in records.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='VOC-style folder: Annotations/, ImageSets/Main/')
    parser.add_argument('--out-dir', required=True, help='where SPLIT.json is written')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--classes', help='a text file of class names, one a line, in id order')
    return parser.parse_args(argv)


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    classes = None
    if args.classes:
        if not osp.isfile(args.classes):
            raise ToolError(f'--classes {args.classes!r}: no such file')
        with open(args.classes) as f:
            classes = [line.strip() for line in f if line.strip()]
    out = convert(args.root, args.splits, classes)
    for split, ann in out.items():
        path = osp.join(args.out_dir, f'{split}.json')
        write_json(ann, path, what='annotation file')
        print(f'{split}: {len(ann["images"])} images, {len(ann["annotations"])} boxes '
              f'({sum(a["iscrowd"] for a in ann["annotations"])} difficult, ignored) -> {path}')
    n = len(next(iter(out.values()))['categories'])
    print(f'{n} classes; next: python tools/misc/own_data_leaf.py {args.root} --train-ann '
          f'{osp.relpath(osp.join(args.out_dir, args.splits[0] + ".json"), args.root)} ... '
          '--train-images JPEGImages/ --val-images JPEGImages/ --out LEAF.py (docs/own_data.md)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
