"""A tiny dataset in the exact LVIS v1 / v0.5 formats with the real category lists, and a stand-in
for torchvision's ImageNet ResNet files in torch's hub cache, for running the real LVIS leaves
offline (tests/test_e2e/test_lvis_configs.py).

The hub cache: mmengine loads ``init_cfg=dict(type='Pretrained', checkpoint=URL)`` through torch's
``load_state_dict_from_url``, which reads ``$TORCH_HOME/hub/checkpoints/<file name of the URL>``
when it exists and downloads only when it does not. :func:`fake_imagenet_cache` writes there a
partial state dict whose stem convolution holds a marker value; the stem is frozen in mmdet's LVIS
configs (``frozen_stages=1``), so a run that really loaded the file still holds the marker after
training, and one whose ``init_cfg`` is broken or missing does not.
"""
import json
import os.path as osp

import numpy as np
import torch
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STATS = {
    'v1': osp.join(ROOT, 'mmdet_eql', 'data', 'lvis_v1_category_stats.json'),
    'v0.5': osp.join(ROOT, 'mmdet_eql', 'data', 'lvis_v0.5_category_stats.json'),
}
#: the files the leaves name (torchvision's IMAGENET1K_V1 ResNets)
IMAGENET_FILES = ('resnet50-0676ba61.pth', 'resnet101-63fe2227.pth')


def stem_marker() -> torch.Tensor:
    """The (64, 3, 7, 7) stem weight the fake ImageNet files hold."""
    g = torch.Generator().manual_seed(1234)
    return torch.randn(64, 3, 7, 7, generator=g) * 0.05


def fake_imagenet_cache(torch_home: str) -> None:
    """Writes the stand-in ResNet files into ``torch_home``/hub/checkpoints/."""
    state = {
        'conv1.weight': stem_marker(),
        'bn1.weight': torch.ones(64),
        'bn1.bias': torch.zeros(64),
        'bn1.running_mean': torch.zeros(64),
        'bn1.running_var': torch.ones(64),
    }
    ckpt_dir = osp.join(torch_home, 'hub', 'checkpoints')
    import os
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in IMAGENET_FILES:
        torch.save(state, osp.join(ckpt_dir, name))


def _categories(version):
    with open(STATS[version]) as f:
        stats = json.load(f)
    cats = [
        dict(
            id=c['id'],
            name=c['name'],
            synset=c['synset'],
            synonyms=[c['name']],
            def_=c['name'],
            frequency=c['frequency'],
            image_count=c['image_count'],
            instance_count=c['instance_count']) for c in stats
    ]
    for c in cats:
        c['def'] = c.pop('def_')
    return cats


def _pick(cats, n, seed):
    """n category ids, one third from each frequency group."""
    rng = np.random.RandomState(seed)
    out = []
    for g in 'rcf':
        ids = [c['id'] for c in cats if c['frequency'] == g]
        out += [int(i) for i in rng.choice(ids, n // 3 + 1, replace=False)]
    return out[:n]


def make_lvis_fixture(data_root: str,
                      version: str = 'v1',
                      num_train: int = 4,
                      num_val: int = 2) -> str:
    """Writes ``data_root``/annotations/lvis_{v1,v0.5}_{train,val}.json and JPEG images where
    mmdet's LVIS datasets look for them (v1: the path in ``coco_url``; v0.5: ``file_name`` under
    train2017/ or val2017/). 640 x 480 images, 2-3 rectangular objects each (boxes >= 32 px),
    categories from all three frequency groups. Returns ``data_root`` with a trailing slash."""
    import os
    cats = _categories(version)
    tag = 'lvis_v1' if version == 'v1' else 'lvis_v0.5'
    rng = np.random.RandomState(0)
    ann_id = 1
    for split, n, first_id in (('train', num_train, 1), ('val', num_val, 1000)):
        folder = 'train2017' if split == 'train' else 'val2017'
        os.makedirs(osp.join(data_root, folder), exist_ok=True)
        images, anns = [], []
        cat_ids = _pick(cats, 6, seed=1)
        for k in range(n):
            img_id = first_id + k
            w, h = 640, 480
            file_name = f'{img_id:012d}.jpg'
            pixels = rng.randint(0, 255, (h, w, 3), dtype=np.uint8)
            present = []
            for j in range(2 + k % 2):
                x, y = 40 + 180 * j, 60 + 50 * j
                bw, bh = 120, 150
                cid = cat_ids[(k + j) % len(cat_ids)]
                pixels[y:y + bh, x:x + bw] = rng.randint(0, 255, 3)
                anns.append(
                    dict(
                        id=ann_id,
                        image_id=img_id,
                        category_id=cid,
                        bbox=[x, y, bw, bh],
                        area=bw * bh,
                        segmentation=[[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]))
                ann_id += 1
                present.append(cid)
            Image.fromarray(pixels).save(osp.join(data_root, folder, file_name), quality=90)
            negs = [c['id'] for c in cats[:40] if c['id'] not in present][:5]
            image = dict(
                id=img_id,
                width=w,
                height=h,
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
        os.makedirs(osp.join(data_root, 'annotations'), exist_ok=True)
        with open(osp.join(data_root, 'annotations', f'{tag}_{split}.json'), 'w') as f:
            json.dump(
                dict(
                    info=dict(description=f'tiny {tag} fixture'),
                    licenses=[dict(id=1, name='test', url='')],
                    images=images,
                    annotations=anns,
                    categories=cats), f)
    return data_root.rstrip('/') + '/'
