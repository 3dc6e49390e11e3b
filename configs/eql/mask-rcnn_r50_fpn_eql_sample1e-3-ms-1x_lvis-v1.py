# Mask R-CNN R50-FPN with the Equalization Loss (Tan et al., CVPR 2020) on LVIS v1, with mmdet's
# repeat-factor sampling (ClassBalancedDataset, oversample_thr=1e-3), 1x schedule.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# ImageNet-pretrained ResNet-50: torchvision's weights (IMAGENET1K_V1), named by their URL so that
# neither torchvision nor a network at every start is needed (mmdet's base says
# 'torchvision://resnet50', which mmengine resolves by importing torchvision). mmengine downloads
# the file once into torch's hub cache ($TORCH_HOME/hub/checkpoints/), where it can also be put
# by hand on a machine without internet.

# lambda = 0.0011 (the EQLv2 authors' value for EQL on LVIS v1): protects 815 of 1203 classes,
# all 337 rare + 461 common and 17 frequent (f_j < lambda with f_j = image_count / 99,388).
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',  # shipped LVIS v1 train statistics
            prior_prob=0.001,  # classifier bias -log((1 - p) / p), as the authors initialise it
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='EQLLoss',
                num_classes=1203,
                lambda_=0.0011,
                loss_weight=1.0))))
# Stops at the start if the frequencies' category names differ from the dataset's.
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
