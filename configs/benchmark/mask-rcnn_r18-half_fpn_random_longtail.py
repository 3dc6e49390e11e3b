# The embedded long-tailed benchmark (tools/benchmark/make_dataset.py --preset small): a small
# Mask R-CNN trained from scratch on this 2-core CPU. This file is the softmax cross-entropy
# baseline and the primitive of the folder; every other method is a leaf that states its loss.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', 'mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# What the benchmark is, for tools/benchmark/run.py: the method's short name and label.
# Every leaf states its own; a new method is one new leaf.
benchmark = dict(method='softmax', label='softmax CE (mmdet)')

# The preset: the small preset by default; tools/benchmark/run.py (and the tests) set
# these environment variables from the generated dataset, so that no key of a list (a pipeline
# transform) is ever addressed by its position.
data_root = '{{$LONGTAIL_DATA_ROOT:data/longtail_small/}}'
num_classes = {{'$LONGTAIL_NUM_CLASSES:64'}}
max_iters = {{'$LONGTAIL_MAX_ITERS:900'}}
image_size = {{'$LONGTAIL_IMAGE_SIZE:128'}}  # square images; the Resize below sets scale_factor
# written by tools/benchmark/make_dataset.py (the class-frequency tool's format)
class_freq_file = data_root + 'annotations/class_freq.json'

model = dict(
    # a ResNet-18 of half width (base_channels 32), from scratch: no pretrained weights exist here
    backbone=dict(depth=18, base_channels=32, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        # objects are 9-44 px in 128 px images: anchors of 16-256 px over strides 4-64
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64, num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),  # 64 RoIs per image
    test_cfg=dict(
        rpn=dict(nms_pre=600, max_per_img=300),
        # LVIS-style evaluation: a low score threshold; few objects per image, so 100 suffice
        rcnn=dict(score_thr=0.0001, max_per_img=100)))

dataset_type = 'LVISFormatDataset'  # LVIS v1 format, classes read from the file
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        # federated negatives as in LVIS; annotations/val_strict.json lists every absent class
        ann_file='annotations/val_lvis.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='FastLVISMetric',  # mmdet's LVISMetric, computed by a compiled exact evaluator
    ann_file=data_root + 'annotations/val_lvis.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator

# lr 0.02 for batch 8 from scratch; linear warm-up, steps at 2/3 and 8/9 of the schedule
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[max_iters * 2 // 3, max_iters * 8 // 9],
        gamma=0.1)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
# multi-process runs (dist_train.sh, Slurm) also on machines without CUDA: mmengine's DDP wrapper,
# which gives a CPU module device_ids=None (mmdet_eql/engine/model_wrappers/distributed.py)
model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel', find_unused_parameters=False)
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=8)
# torch's generator state in checkpoints: a run resumed after a crash continues exactly; and the
# per-class positive/negative gradient ratio of the RoI classifier (grad_ratio.json / .png in the
# run's log directory; it only reads gradients)
custom_hooks = [dict(type='RNGStateHook'), dict(type='GradientRatioMonitorHook', interval=100)]
