# Cascade Mask R-CNN R50-FPN with the effective class-margin loss on LVIS v1 (repeat-factor
# sampling 1e-3, 1x): the cascade root with the ECM leaf's difference from mmdet's Mask R-CNN
# (ecm/mask-rcnn_r50_fpn_ecm_sample1e-3-ms-1x_lvis-v1.py, the authors' r50_ecm_1x.py) in all
# three stages and the mask heads: normalised-linear classifier and mask predictor (temperature
# 20), clipping at norm 5, a 10,000-iteration warm-up from 1e-4.
_base_ = '../eql/cascade-mask-rcnn_r50_fpn_sample1e-3-ms-1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        stage_bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',
            prior_prob=None,  # mmdet's initialisation of the normalised classifier
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),  # (sic) mmdet's key
            loss_cls=dict(
                _delete_=True,
                type='EffectiveClassMarginLoss',  # C + 1 sigmoid logits, the last background
                num_classes=1203,
                fg_bg_ratio=6.3313,
                loss_weight=1.0)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))

optim_wrapper = dict(clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=10000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
