"""Writes a synthetic dataset in the exact LVIS v1 or v0.5 format, with the real category lists.

    python tools/misc/make_lvis_format_data.py OUT_DIR [--version v1] [--train 100] [--val 20]
                                              [--objects 12.7] [--seed 0]
                                              [--stand-in-weights TORCH_HOME]

For running the real LVIS configs without LVIS: the annotation files go where mmdet's LVIS
configs expect them (``OUT_DIR/annotations/lvis_v1_{train,val}.json`` or
``lvis_v0.5_{train,val}.json``) and the JPEG images where mmdet's LVIS datasets look (v1: the
path in ``coco_url``, ``train2017/`` or ``val2017/``; v0.5: ``file_name`` without its
``COCO_..._`` prefix under the same folders), so ``data_root=OUT_DIR/`` is the only change a
config needs. Images are 640 x 480 noise with filled rectangles as objects (polygon masks);
categories are drawn in proportion to their LVIS train image counts (so frequent classes
dominate, as in LVIS); every image lists 5 absent categories as ``neg_category_ids``.
``--objects`` is the mean number of objects per image (LVIS v1 train: 1,270,141 annotations on
100,170 images, 12.7); ``--objects 0`` gives the small fixed layout the tests use (2-3 large
objects per image, a third each from rare, common and frequent classes).
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np

from mmdet_eql.utils.class_frequency import DATA_DIR

STATS = {
    'v1': osp.join(DATA_DIR, 'lvis_v1_category_stats.json'),
    'v0.5': osp.join(DATA_DIR, 'lvis_v0.5_category_stats.json'),
}
WIDTH, HEIGHT = 640, 480


def lvis_categories(version: str) -> list:
    """The real category list of LVIS ``version`` in the annotation files' format."""
    if version not in STATS:
        raise ValueError(f'version must be one of {sorted(STATS)}, got {version!r}')
    with open(STATS[version]) as f:
        stats = json.load(f)
    keys = ('id', 'name', 'synset', 'frequency', 'image_count', 'instance_count')
    return [
        dict({k: c[k]
              for k in keys}, synonyms=[c['name']], **{'def': c['name']}) for c in stats
    ]


def _fixed_layout(cats, k, rng):
    """2-3 large objects, categories cycling through two of each frequency group."""
    picked = []
    pick_rng = np.random.RandomState(1)
    for g in 'rcf':
        ids = [c['id'] for c in cats if c['frequency'] == g]
        picked += [int(i) for i in pick_rng.choice(ids, 2, replace=False)]
    return [(40 + 180 * j, 60 + 50 * j, 120, 150, picked[(k + j) % len(picked)])
            for j in range(2 + k % 2)]


def _random_layout(cats, mean_objects, rng, weights):
    n = max(1, rng.poisson(mean_objects))
    out = []
    for _ in range(n):
        bw, bh = rng.uniform(16, 300), rng.uniform(16, 300)
        x, y = rng.uniform(0, WIDTH - bw), rng.uniform(0, HEIGHT - bh)
        cid = int(cats[rng.choice(len(cats), p=weights)]['id'])
        out.append((x, y, bw, bh, cid))
    return out


def make_lvis_format(out_dir: str,
                     version: str = 'v1',
                     num_train: int = 4,
                     num_val: int = 2,
                     mean_objects: float = 0,
                     seed: int = 0,
                     progress: bool = False) -> str:
    """Writes the dataset (see the module docstring); returns ``out_dir`` with a trailing /."""
    from PIL import Image
    cats = lvis_categories(version)
    weights = np.array([c['image_count'] for c in cats], float)
    weights /= weights.sum()
    tag = 'lvis_v1' if version == 'v1' else 'lvis_v0.5'
    rng = np.random.RandomState(seed)
    ann_id = 1
    for split, n, first_id in (('train', num_train, 1), ('val', num_val, 10_000_000)):
        folder = f'{split}2017'
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)
        images, anns = [], []
        it = range(n)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc=f'{tag} {split}', unit='img')
        for k in it:
            img_id = first_id + k
            file_name = f'{img_id:012d}.jpg'
            pixels = rng.randint(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            layout = (
                _fixed_layout(cats, k, rng) if mean_objects <= 0 else _random_layout(
                    cats, mean_objects, rng, weights))
            present = set()
            for x, y, bw, bh, cid in layout:
                x0, y0, x1, y1 = int(x), int(y), int(x + bw), int(y + bh)
                pixels[y0:y1, x0:x1] = rng.randint(0, 255, 3)
                anns.append(
                    dict(
                        id=ann_id,
                        image_id=img_id,
                        category_id=cid,
                        bbox=[float(x0), float(y0),
                              float(x1 - x0), float(y1 - y0)],
                        area=float((x1 - x0) * (y1 - y0)),
                        segmentation=[[x0, y0, x1, y0, x1, y1, x0, y1]]))
                ann_id += 1
                present.add(cid)
            Image.fromarray(pixels).save(osp.join(out_dir, folder, file_name), quality=90)
            negs = [c['id'] for c in cats if c['id'] not in present]
            negs = sorted(int(i) for i in rng.choice(negs, 5, replace=False))
            image = dict(
                id=img_id,
                width=WIDTH,
                height=HEIGHT,
                license=1,
                flickr_url='',
                date_captured='',
                neg_category_ids=negs,
                not_exhaustive_category_ids=[])
            if version == 'v1':
                image['coco_url'] = f'http://images.cocodataset.org/{folder}/{file_name}'
            else:
                image['file_name'] = f'COCO_{split}2014_{file_name}'
            images.append(image)
        os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
        with open(osp.join(out_dir, 'annotations', f'{tag}_{split}.json'), 'w') as f:
            json.dump(
                dict(
                    info=dict(description=f'synthetic {tag} ({split}, seed {seed})'),
                    licenses=[dict(id=1, name='synthetic', url='')],
                    images=images,
                    annotations=anns,
                    categories=cats), f)
    return out_dir.rstrip('/') + '/'


#: the files the LVIS leaves name: torchvision's IMAGENET1K_V1 ResNets, and OpenMMLab's conversions
#: of detectron2's MSRA caffe-style ResNets (the EQL authors' start, configs/eql/_base_/)
IMAGENET_FILES = ('resnet50-0676ba61.pth', 'resnet101-63fe2227.pth', 'resnet50_msra-5891d200.pth',
                  'resnet101_msra-6cc46731.pth')


def stem_marker():
    """The (64, 3, 7, 7) stem weight the stand-in ResNet files hold (a fixed random draw)."""
    import torch
    g = torch.Generator().manual_seed(1234)
    return torch.randn(64, 3, 7, 7, generator=g) * 0.05


def res5_marker():
    """The (512, 1024, 1, 1) weight of res5's first convolution (``layer4.0.conv1``, the same shape
    in ResNet-50 and -101) the stand-in files hold: a C4 model's shared head loads it."""
    import torch
    g = torch.Generator().manual_seed(5)
    return torch.randn(512, 1024, 1, 1, generator=g) * 0.05


def write_stand_in_weights(torch_home: str) -> list:
    """Writes stand-ins of the ImageNet ResNet files the LVIS leaves name into
    ``torch_home``/hub/checkpoints/, where mmengine reads them instead of downloading: a partial
    state dict (the stem convolution and its batch norm, and res5's first convolution), for trying
    the LVIS path offline. NOT ImageNet weights: a detector started from them learns from scratch.
    Returns the paths."""
    import torch
    state = {
        'layer4.0.conv1.weight': res5_marker(),
        'conv1.weight': stem_marker(),
        'bn1.weight': torch.ones(64),
        'bn1.bias': torch.zeros(64),
        'bn1.running_mean': torch.zeros(64),
        'bn1.running_var': torch.ones(64),
    }
    ckpt_dir = osp.join(torch_home, 'hub', 'checkpoints')
    os.makedirs(ckpt_dir, exist_ok=True)
    paths = [osp.join(ckpt_dir, name) for name in IMAGENET_FILES]
    for path in paths:
        torch.save(state, path)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--version', default='v1', choices=sorted(STATS))
    parser.add_argument('--train', type=int, default=100, help='train images')
    parser.add_argument('--val', type=int, default=20, help='val images')
    parser.add_argument('--objects', type=float, default=12.7, help='mean objects per image')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--stand-in-weights',
        metavar='TORCH_HOME',
        help='also write stand-ins (NOT ImageNet weights: the stem only) of the ResNet files the '
        'LVIS leaves name into TORCH_HOME/hub/checkpoints/, to try the LVIS path offline; run '
        'with TORCH_HOME=TORCH_HOME')
    args = parser.parse_args(argv)
    for n, what in ((args.train, '--train'), (args.val, '--val')):
        if n < 1:
            raise SystemExit(f'error: {what} must be at least 1, got {n}')
    root = make_lvis_format(
        args.out_dir, args.version, args.train, args.val, args.objects, args.seed, progress=True)
    print(f'wrote {root} (data_root={root})')
    if args.stand_in_weights:
        for path in write_stand_in_weights(args.stand_in_weights):
            print(f'wrote a stand-in (not ImageNet weights) {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
