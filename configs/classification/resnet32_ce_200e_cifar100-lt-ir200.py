# CIFAR-100-LT at imbalance 200 (500 down to 2 train images a class), ResNet-32, softmax
# cross-entropy: the baseline of the EQL paper's Table 7 (quoted: top-1 41.33). For users with
# CIFAR-100's python files on disk: data_root holds cifar-100-python/{train,test,meta}
# (https://www.cs.toronto.edu/~kriz/cifar.html). Runs through tools/train.py like a detection
# config (mmengine's Runner, the project's classifier registered in mmdet's registries).
#
# Schedule: the standard CIFAR-LT one (Cao et al. 2019, LDAM-DRW), which the literature the paper
# compares with uses; docs/references.md does not record the paper's own: 200 epochs, batch 128, SGD
# momentum 0.9, weight decay 2e-4, lr 0.1 with a linear warm-up over 5 epochs, x0.01 at epoch 160
# and x0.0001 at 180.
default_scope = 'mmdet'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

data_root = 'data/cifar100/'
num_classes = 100
max_count = 500  # CIFAR-100's train images a class: the largest class keeps all
imbalance = 200
max_epochs = 200
# the long-tailed split's class frequencies (f = train images of the class / train images), for
# the losses that take them; the same profile as CIFAR100LTDataset draws
train_counts = [int(max_count * imbalance**(-i / (num_classes - 1))) for i in range(num_classes)]
class_freq = [n / sum(train_counts) for n in train_counts]

model = dict(
    type='LongTailClassifier',
    backbone=dict(type='CifarResNet', depth=32),
    num_classes=num_classes,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    data_preprocessor=dict(type='LongTailClsPreprocessor', pad=4))

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CIFAR100LTDataset',
        data_root=data_root,
        split='train',
        imbalance=imbalance,
        max_count=max_count))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CIFAR100LTDataset',
        data_root=data_root,
        split='test',
        imbalance=imbalance,
        max_count=max_count))
test_dataloader = val_dataloader
val_evaluator = dict(type='LongTailAccuracy')
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.2,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[160, 180], gamma=0.01)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# torch's generator state in checkpoints (the augmentation and SEQL's draws): exact resume
custom_hooks = [dict(type='RNGStateHook')]
