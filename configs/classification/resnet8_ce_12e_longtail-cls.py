# The embedded long-tailed classification set (tools/benchmark/make_cls_dataset.py: 64
# classes with the detection benchmark's looks, 32 x 32 px, CIFAR-100-LT's exponential profile)
# with a ResNet-8 (He et al.'s CIFAR ResNet, one block a stage) and softmax cross-entropy: the
# baseline of the softmax-EQL comparison (tools/benchmark/run_cls.py), sized for a 2-core CPU.
# The set is chosen by its folder: LONGTAIL_CLS_DATA_ROOT (default: imbalance 100).
benchmark = dict(method='ce', label='softmax CE')
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

data_root = '{{$LONGTAIL_CLS_DATA_ROOT:data/longtail_cls_ir100/}}'
class_freq_file = data_root + 'class_freq.json'  # written with the set
num_classes = 64
max_epochs = {{'$LONGTAIL_CLS_EPOCHS:12'}}

model = dict(
    type='LongTailClassifier',
    backbone=dict(type='CifarResNet', depth=8),
    num_classes=num_classes,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    data_preprocessor=dict(type='LongTailClsPreprocessor', pad=4))

train_dataloader = dict(
    batch_size=64,
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

# the CIFAR-LT recipe shortened: lr 0.1 with a one-epoch warm-up, x0.1 at 2/3 and 8/9 of the run
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[max_epochs * 2 // 3, max_epochs * 8 // 9],
        gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
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
