# The EQL authors' released recipe (tztztztztz/eql.detectron2, projects/EQL/configs/: its
# Base-EQL-RCNN-FPN.yaml and eql_mask_rcnn_R_50_FPN_1x.yaml; facts, no code), as the fields mmdet's
# LVIS v0.5 leaves of this folder do not already share with it. Not a leaf: a recipe leaf takes
# one of this folder's leaves as its first base and this file as its second, then sets
#   model = {{_base_.authors_model}}, train_cfg = {{_base_.authors_train_cfg}},
#   param_scheduler = {{_base_.authors_param_scheduler}}, and the dataloader and hooks below.
# Only names no leaf has are defined here (mmengine refuses a key two bases share). Field by field
# against the authors' values: configs/README.md, "EQL as its authors trained it".
#
# The start: detectron2's ImageNetPretrained/MSRA/R-50.pkl, a caffe-style ResNet (stride in the
# first 1x1 conv: detectron2's STRIDE_IN_1X1, mmdet's style='caffe'; BGR input, mean subtracted,
# no std division), with its BatchNorm frozen (detectron2's FrozenBN) and the stem and first stage
# frozen (FREEZE_AT 2). OpenMMLab's conversion of the same MSRA weights (mmengine's
# open-mmlab://detectron2/resnet50_caffe), named by URL.
authors_checkpoint_r50 = \
    'https://download.openmmlab.com/pretrain/third_party/resnet50_msra-5891d200.pth'
authors_checkpoint_r101 = \
    'https://download.openmmlab.com/pretrain/third_party/resnet101_msra-6cc46731.pth'
authors_model = dict(
    data_preprocessor=dict(mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False),
    backbone=dict(
        style='caffe',
        frozen_stages=1,
        norm_cfg=dict(requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=authors_checkpoint_r50)))
# 90,000 iterations of 16 images (2 a GPU on 8 GPUs, mmdet's LVIS batch), lr 0.02 divided by 10 at
# 60,000 and 80,000, detectron2's linear warm-up over 1,000 iterations from 0.001 of the rate; one
# evaluation at the end (TEST.EVAL_PERIOD 0), checkpoints every 5,000 iterations.
authors_train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=90000, val_interval=90000)
authors_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=90000,
        by_epoch=False,
        milestones=[60000, 80000],
        gamma=0.1)
]
authors_sampler = dict(_delete_=True, type='InfiniteSampler', shuffle=True)
authors_checkpoint_hook = dict(by_epoch=False, interval=5000)
