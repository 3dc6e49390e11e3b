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

from mmdet_eql.datasets.synthetic_lvis import IMAGENET_FILES  # noqa: F401
from mmdet_eql.datasets.synthetic_lvis import res5_marker, stem_marker  # noqa: F401


def fake_imagenet_cache(torch_home: str) -> None:
    """Writes the stand-in ResNet files into ``torch_home``/hub/checkpoints/ (the tool's
    ``--stand-in-weights``)."""
    from mmdet_eql.datasets.synthetic_lvis import write_stand_in_weights
    write_stand_in_weights(torch_home)


def make_lvis_fixture(data_root: str, version: str = 'v1') -> str:
    """4 train images and 1 val image in the exact LVIS ``version`` format with the real
    categories, 2-3 objects each, cycling through two classes of each frequency group
    (mmdet_eql.datasets.synthetic_lvis). One val image: every LVIS family validates or tests
    on it, at LVIS scale for one of them."""
    from mmdet_eql.datasets.synthetic_lvis import make_lvis_format
    return make_lvis_format(data_root, version, num_train=4, num_val=1, mean_objects=0)
