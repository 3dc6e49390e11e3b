# The one-stage baseline on the embedded benchmark: ATSS (sigmoid focal loss) with the same
# half-width ResNet-18 from scratch, data, schedule and seed as the Mask R-CNN configs. Boxes only.
_base_ = './mask-rcnn_r18-half_fpn_random_longtail.py'
benchmark = dict(method='focal', label='ATSS, focal loss')

model = dict(
    _delete_=True,
    type='ATSS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[32, 64, 128, 256],
        out_channels=64,
        start_level=1,
        add_extra_convs='on_output',
        num_outs=5),
    bbox_head=dict(
        type='ATSSHead',
        num_classes={{_base_.num_classes}},
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        # objects are 9-44 px in 128 px images: anchors of 16-256 px over strides 8-128
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            octave_base_scale=2,
            scales_per_octave=1,
            strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1, pos_weight=-1, debug=False),
    # LVIS-style evaluation: a low score threshold; few objects per image, so 100 suffice
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.0001,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))

val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
# no RoI classifier to monitor: only the exact-resume hook
custom_hooks = [dict(type='RNGStateHook')]
