"""A leaf config for your own COCO-format dataset, written from its annotation files.

    python tools/misc/own_data_leaf.py DATA_ROOT --out configs/my_data/my_leaf.py
        [--train-ann annotations/train.json] [--val-ann annotations/val.json]
        [--train-images train/] [--val-images val/] [--lambda tail-ratio|rare|rare+common|VALUE]
        [--detector auto|mask-rcnn|faster-rcnn]

Reads the train and val annotation files (paths under DATA_ROOT), checks that they list the same
categories, writes the class-frequency JSON beside the train file (``class_freq.json``, as
tools/analysis_tools/class_frequency.py makes it), prints the lambda choices with the classes each
protects, and writes a copy of a template of ``configs/own-data/`` (Mask R-CNN when the train file
has segmentation, Faster R-CNN for box-only data: ``--detector``) with its dataset block filled in:
the data root and files, the classes in the order of their ids, the frequency file and the lambda
chosen. Train it with ``tools/train.py OUT`` (docs/own_data.md).
"""
import argparse
import os
import os.path as osp
import sys

from mmdet_eql.utils import ToolError, load_json, tool_main, write_json
from mmdet_eql.utils.class_frequency import count_categories
from mmdet_eql.utils.paths import repo_path

#: the leaf templates: Mask R-CNN for annotations with segmentation, Faster R-CNN for box-only ones
TEMPLATES = {
    'mask-rcnn': repo_path('configs', 'own-data', 'mask-rcnn_r50_fpn_eql_random-1x_coco-format.py'),
    'faster-rcnn': repo_path('configs', 'own-data',
                             'faster-rcnn_r50_fpn_eql_random-1x_coco-format.py'),
}
BLOCK = ('# ---- your dataset ----\n', '# ---- end of your dataset ----\n')
LAMBDA_CHOICES = ('tail-ratio', 'rare', 'rare+common')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data_root', help='the folder that holds the annotation files and images')
    parser.add_argument('--out', required=True, help='the leaf config to write')
    parser.add_argument('--train-ann', default='annotations/train.json')
    parser.add_argument('--val-ann', default='annotations/val.json')
    parser.add_argument('--train-images', default='train/', help='image folder of the train file')
    parser.add_argument('--val-images', default='val/', help='image folder of the val file')
    parser.add_argument(
        '--detector',
        choices=['auto', *TEMPLATES],
        default='auto',
        help='the leaf: auto (default) writes Mask R-CNN when the train file has segmentation, '
        'Faster R-CNN (box metric only) when it has boxes only')
    parser.add_argument(
        '--lambda',
        dest='lambda_',
        default='tail-ratio',
        help="EQL's lambda: 'tail-ratio' (the paper's 9.1 %% of the instances, default), 'rare', "
        "'rare+common' (the groups by share of instances), or a number")
    args = parser.parse_args(argv)
    if args.lambda_ not in LAMBDA_CHOICES:
        try:
            value = float(args.lambda_)
        except ValueError:
            parser.error(f'--lambda must be one of {", ".join(LAMBDA_CHOICES)} or a number, got '
                         f'{args.lambda_!r}')
        if value < 0:
            parser.error(f'--lambda must be >= 0, got {value}')
    return args


def _load(root: str, rel: str, what: str) -> dict:
    path = osp.join(root, rel)
    if not osp.isfile(path):
        raise ToolError(f'{what} {path!r} not found (give its path under DATA_ROOT)')
    ann = load_json(path, what=what, progress=False)
    if not isinstance(ann, dict) or not all(
            k in ann for k in ('images', 'annotations', 'categories')):
        raise ToolError(f'{what} {path!r}: not a COCO-format file (images, annotations, '
                        'categories)')
    return ann


def has_segmentation(ann: dict) -> bool:
    """Whether any annotation carries a non-empty ``segmentation`` (polygons or RLE)."""
    return any(a.get('segmentation') for a in ann['annotations'])


def choose_template(detector: str, train: dict, train_ann: str) -> str:
    """The template for ``--detector``: by the train file's segmentation under 'auto'; a Mask
    R-CNN asked for on box-only annotations is refused with the fix."""
    masks = has_segmentation(train)
    if detector == 'mask-rcnn' and not masks:
        raise ToolError(f'{train_ann}: no annotation has a segmentation, and a Mask R-CNN leaf '
                        'needs masks to train its mask head; leave --detector out (a Faster R-CNN '
                        'leaf is written for box-only data) or add polygons or RLE')
    if detector == 'auto':
        detector = 'mask-rcnn' if masks else 'faster-rcnn'
        print(f'{train_ann}: ' + ('annotations with segmentation: a Mask R-CNN leaf (box and mask '
                                  'metrics)' if masks else 'boxes only, no segmentation: a '
                                  'Faster R-CNN leaf (box metric only)'))
    return TEMPLATES[detector]


def lambda_block(choice: str, rows: list) -> str:
    """The ``lambda_choice`` line of the leaf for a --lambda choice."""
    if choice == 'tail-ratio':
        return 'lambda_choice = dict(lambda_=None, tail_ratio=0.091)'
    if choice in ('rare', 'rare+common'):
        row = next((r for r in rows if r['key'] == choice), None)
        if row is None:
            raise ToolError(f'--lambda {choice}: no lambda protects exactly the {choice} group '
                            '(a class of it is as frequent as one outside it, or it is empty); '
                            'give a number')
        return f'lambda_choice = dict(lambda_={row["lambda_"]:.6g}, tail_ratio=None)'
    return f'lambda_choice = dict(lambda_={float(choice):g}, tail_ratio=None)'


def leaf_text(template: str, block: str) -> str:
    start, end = template.index(BLOCK[0]), template.index(BLOCK[1])
    return template[:start] + BLOCK[0] + block + template[end:]


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    from mmdet_eql.analysis.class_frequency import frequency_file, report_choices, set_share_groups
    train = _load(args.data_root, args.train_ann, 'train annotation file')
    val = _load(args.data_root, args.val_ann, 'val annotation file')
    names = {c['id']: c['name'] for c in train['categories']}
    val_names = {c['id']: c['name'] for c in val['categories']}
    if names != val_names:
        only = sorted(set(names.items()) ^ set(val_names.items()))[:3]
        raise ToolError(f'the train and val files list other categories (first differences, '
                        f'(id, name): {only}); both must list the same ids and names')
    for ann, rel, what in ((train, 'train_ann', 'train'), (val, 'val_ann', 'val')):
        ids = [c['id'] for c in ann['categories']]
        if ids != sorted(ids):  # mmdet numbers labels in file order; frequencies are by id
            path = osp.join(args.data_root, getattr(args, rel))
            sorted_rel = osp.splitext(getattr(args, rel))[0] + '.by-id.json'
            write_json(
                dict(ann, categories=sorted(ann['categories'], key=lambda c: c['id'])),
                osp.join(args.data_root, sorted_rel),
                what='annotation file')
            print(f'{path} lists its categories out of id order; mmdet would number the labels '
                  f'in that order, the frequencies by id: the leaf reads a copy with them in id '
                  f'order, {osp.join(args.data_root, sorted_rel)}')
            setattr(args, rel, sorted_rel)
    try:
        result = count_categories(train)
    except ValueError as e:
        raise ToolError(f'{args.train_ann}: {e}') from None
    cats = result['categories']
    from mmdet_eql.analysis.data_checks import data_warnings
    for line in data_warnings(cats, val):
        print(line)
    set_share_groups(cats)
    result = frequency_file(result, osp.basename(args.train_ann), 'share of instances')
    report_choices(result, None)
    freq_file = osp.join(osp.dirname(osp.join(args.data_root, args.train_ann)), 'class_freq.json')
    write_json(result, freq_file, what='class-frequency file')
    classes = tuple(c['name'] for c in cats)  # in the order of their ids
    root = args.data_root.rstrip('/') + '/'
    block = '\n'.join([
        f'data_root = {root!r}',
        f'train_ann_file = {args.train_ann!r}',
        f'train_img_prefix = {args.train_images!r}',
        f'val_ann_file = {args.val_ann!r}',
        f'val_img_prefix = {args.val_images!r}',
        '# the categories in the order of their ids (mmdet numbers the labels so)',
        f'classes = {classes!r}',
        f'class_freq = {freq_file!r}',
        lambda_block(args.lambda_, result['lambda_choices']),
    ]) + '\n'
    with open(choose_template(args.detector, train, args.train_ann)) as f:
        text = leaf_text(f.read(), block)
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write(text)
    print(f'{len(classes)} classes, frequencies -> {freq_file}; leaf -> {args.out} (train it: '
          f'python tools/train.py {args.out})')
    print(smoke_run_hint(args.out, train))
    return 0


def smoke_run_hint(leaf: str, train: dict) -> str:
    """What a first short run of ``leaf`` needs: its images at their own size when they are
    small for mmdet's 1333 x 800, the score threshold off at test (a few iterations leave every
    box below mmdet's 0.05) and few detections an image (docs/own_data.md)."""
    import numpy as np
    sizes = [(im.get('width', 0), im.get('height', 0)) for im in train['images']]
    w, h = (int(np.median([s[k] for s in sizes])) if sizes else 0 for k in (0, 1))
    scale = ''
    if 0 < max(w, h) < 800:
        scale = (f' (images {w} x {h} (median): train them at their size, not mmdet\'s 1333 x '
                 f"800: --cfg-options train_dataloader.dataset.pipeline.2.scale='({w},{h})' "
                 f"test_dataloader.dataset.pipeline.1.scale='({w},{h})')")
    return (f'a smoke run: python tools/train.py {leaf} --max-iters 20, then tools/test.py with '
            '--cfg-options model.test_cfg.rcnn.score_thr=0 model.test_cfg.rcnn.max_per_img=20'
            f'{scale}; docs/own_data.md')


if __name__ == '__main__':
    sys.exit(main())
