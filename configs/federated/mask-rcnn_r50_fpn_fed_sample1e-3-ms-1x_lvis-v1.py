# Mask R-CNN R50-FPN with the federated loss (Zhou et al. 2021, CenterNet2; Detic's default) on
# LVIS v1, with mmdet's repeat-factor sampling (ClassBalancedDataset, oversample_thr=1e-3), 1x.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# ImageNet-pretrained ResNet-50 by URL (torchvision's IMAGENET1K_V1 file; no torchvision needed;
# mmengine caches it in $TORCH_HOME/hub/checkpoints/, where it can be put by hand offline).

# The authors' settings (CenterNet2 / Detic configs): a C-wide sigmoid classifier, 50 classes a
# call (those present in the batch, the background label counting as one, then classes drawn
# without replacement by image_count ** 0.5 from the LVIS v1 train statistics), and the sigmoid
# classifier's bias prior p = 0.01 (their PRIOR_PROB default): b = -log((1 - p) / p).
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',  # shipped LVIS v1 train statistics (image counts)
            prior_prob=0.01,
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='FederatedLoss',
                num_classes=1203,
                num_sample_cats=50,
                freq_weight_power=0.5,
                loss_weight=1.0))))
# Stops at the start if the frequencies' category names differ from the dataset's; the draws
# come from torch's generator, whose state goes into every checkpoint (exact resume).
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
