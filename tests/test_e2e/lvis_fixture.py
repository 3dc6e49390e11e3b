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
import os
import os.path as osp
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in IMAGENET_FILES:
        torch.save(state, osp.join(ckpt_dir, name))


def make_lvis_fixture(data_root: str, version: str = 'v1') -> str:
    """4 train and 2 val images in the exact LVIS ``version`` format with the real categories,
    2-3 objects each from all three frequency groups (tools/misc/make_lvis_format_data.py)."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))
    from make_lvis_format_data import make_lvis_format
    return make_lvis_format(data_root, version, num_train=4, num_val=2, mean_objects=0)
