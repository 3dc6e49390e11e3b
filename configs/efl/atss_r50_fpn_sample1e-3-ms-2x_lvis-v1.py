# The one-stage baseline for EFL: mmdet's ATSS R50-FPN (sigmoid focal loss) on LVIS v1 boxes,
# repeat-factor sampling (threshold 1e-3), multi-scale training, 2x: the EFL paper's setting
# (quoted there: 27.5 box AP with EFL, see configs/README.md).
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

num_classes = 1203
# ImageNet-pretrained ResNet-50 named by its URL (torchvision's IMAGENET1K_V1 file): no torchvision
# needed; mmengine caches it in $TORCH_HOME/hub/checkpoints/ (see configs/README.md)
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    bbox_head=dict(num_classes=num_classes),
    # LVIS test settings: score threshold 1e-4, up to 300 detections per image
    test_cfg=dict(score_thr=0.0001, max_per_img=300))

dataset_type = 'LVISV1Dataset'
data_root = 'data/lvis_v1/'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=1e-3,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline,
            backend_args=backend_args)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='FastLVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric='bbox',
    backend_args=backend_args)
test_evaluator = val_evaluator

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
# torch's generator state in checkpoints: a run resumed after a crash continues exactly
custom_hooks = [dict(type='RNGStateHook')]
