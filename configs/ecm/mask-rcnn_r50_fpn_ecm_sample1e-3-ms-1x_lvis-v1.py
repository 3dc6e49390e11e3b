# Mask R-CNN R50-FPN with the effective class-margin loss (ECM; Cho and Krähenbühl, ECCV 2022) on
# LVIS v1, as its authors train it (janghyuncho/ECM-Loss, r50_ecm_1x.py): mmdet's repeat-factor
# sampling (their base dataset config, ClassBalancedDataset with oversample_thr=1e-3) and
# multi-scale training, 1x, a normalised-linear classifier and mask predictor (temperature 20),
# gradient clipping at norm 5 and a 10,000-iteration warm-up from 1e-4 of the learning rate.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# ImageNet-pretrained ResNet-50 by URL (torchvision's IMAGENET1K_V1 file; no torchvision needed;
# mmengine caches it in $TORCH_HOME/hub/checkpoints/, where it can be put by hand offline).
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        bbox_head=dict(
            # writes the LVIS v1 train image counts into the loss; no prior: the authors keep
            # mmdet's initialisation of the normalised classifier (bias 0)
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',
            prior_prob=None,
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),  # (sic) mmdet's key
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='EffectiveClassMarginLoss',  # C + 1 sigmoid logits, the last background
                num_classes=1203,
                fg_bg_ratio=6.3313,  # the authors' background count / foreground count
                loss_weight=1.0)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))

optim_wrapper = dict(clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=10000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]

# Stops at the start if the frequencies' category names differ from the dataset's.
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
