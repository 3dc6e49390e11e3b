# The pre-trained regime of the benchmark (docs/benchmark/steep-pretrained.md, "The benchmark under
# the paper's conditions", written down before any detection run on it). Not a leaf: the runner
# applies it at run time to a method's two-stage leaf of configs/benchmark/ (`--regime pretrained`;
# mmdet_eql.benchmark.methods.load_config), as a second base beside the leaf, taking `model =
# pretrained_two_stage` and `optim_wrapper = pretrained_optim_wrapper`, so that the method and the
# regime each live in one place. Only names that no method leaf has are defined here (mmengine
# refuses a key two bases share).
#
# The start, as LVIS detectors get ImageNet: the backbone pre-trained on a balanced generated set
# whose labels are none of the detection classes (tools/benchmark/pretrain_backbone.py), loaded
# with init_cfg as mmdet's configs load an mmpretrain checkpoint; the stem and first stage frozen
# and BatchNorm statistics fixed, as in mmdet's LVIS configs (frozen_stages=1, norm_eval=True).
pretrained_checkpoint = '{{$LONGTAIL_PRETRAINED:data/longtail_pretrain/backbone.pth}}'
pretrained_backbone = dict(
    frozen_stages=1,
    norm_eval=True,
    # the from-scratch base says init_cfg=None: replaced, not merged
    init_cfg=dict(
        _delete_=True, type='Pretrained', checkpoint=pretrained_checkpoint, prefix='backbone.'))
# The paper's conditions as far as this 2-core CPU affords them (measured before any detection
# run; docs/benchmark.md): 128 RoIs an image at 1:3 foreground:background (the paper: 512, which
# took 1.77 s an iteration here against 0.99 s for 128 and 0.66 s for the from-scratch 64, mmcv's
# one-threaded RoIAlign backward most of it), 256 RPN anchors an image and 1000 proposals after NMS
# in training (mmdet's defaults; from scratch: 128 and 300), 600 before NMS per level (mmdet: 2000,
# 0.4 s more an iteration), mmdet's 1000 / 1000 proposals at test, and 300 detections an image at
# test, as LVIS counts them.
pretrained_two_stage = dict(
    backbone=pretrained_backbone,
    train_cfg=dict(
        rpn=dict(sampler=dict(num=256)),
        rpn_proposal=dict(nms_pre=600, max_per_img=1000),
        rcnn=dict(sampler=dict(num=128, pos_fraction=0.25))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=1000), rcnn=dict(max_per_img=300)))
# mmdet's LVIS rate, 0.02 for 16 images, scaled linearly to this batch of 8 (from scratch: 0.02)
pretrained_optim_wrapper = dict(optimizer=dict(lr=0.01))
