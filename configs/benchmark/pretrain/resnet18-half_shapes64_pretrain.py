# The benchmark's stand-in for ImageNet pre-training (docs/benchmark/steep-pretrained.md,
# "Decided before any detection run"):
# the detection benchmark's backbone (mmdet's ResNet-18 at half width, base_channels 32) trained
# from scratch to classify a balanced generated set whose 64 labels are none of the detection
# classes: 8 shapes and 8 hues that no benchmark category has
# (tools/benchmark/make_cls_dataset.py --looks pretrain --imbalance 1 --size 64). The detection
# leaves of configs/benchmark/, in the pre-trained regime (regimes/pretrained.py), load its
# backbone with init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.'), as mmdet's
# configs load an mmpretrain one.
# tools/benchmark/pretrain_backbone.py makes the set, runs this config through tools/train.py
# and writes the fingerprinted checkpoint.
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

data_root = '{{$LONGTAIL_PRETRAIN_DATA_ROOT:data/longtail_pretrain/set/}}'
max_epochs = {{'$LONGTAIL_PRETRAIN_EPOCHS:8'}}

model = dict(
    type='LongTailClassifier',
    # exactly the detector's backbone (configs/benchmark/: depth 18, base_channels 32), all
    # stages trained, batch statistics updated
    backbone=dict(
        type='ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(3, ),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    in_channels=256,
    num_classes=64,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    # RGB arrays normalised as mmdet's DetDataPreprocessor normalises the detector's input (its
    # ImageNet mean and std, after bgr_to_rgb): the weights see the same input statistics there;
    # pad-and-crop by 8 px and horizontal flips
    data_preprocessor=dict(
        type='LongTailClsPreprocessor',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        pad=8))

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='LongTailClsDataset', data_root=data_root, split='train'))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='LongTailClsDataset', data_root=data_root, split='val'))
test_dataloader = val_dataloader
val_evaluator = dict(type='LongTailAccuracy')
test_evaluator = val_evaluator

# ImageNet's ResNet recipe shortened: SGD lr 0.1 for batch 128 (0.1 per 256 x 2 for this small set,
# measured to converge in docs/benchmark.md), weight decay 1e-4, a one-epoch warm-up, cosine decay
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=1,
        end=max_epochs,
        T_max=max_epochs - 1,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
custom_hooks = [dict(type='RNGStateHook')]
