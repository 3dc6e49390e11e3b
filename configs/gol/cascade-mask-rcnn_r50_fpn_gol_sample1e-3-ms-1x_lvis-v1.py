# Cascade Mask R-CNN R50-FPN with the Gumbel optimised loss on LVIS v1 (repeat-factor sampling
# 1e-3, 1x): the cascade root with the GOL leaf's difference from mmdet's Mask R-CNN
# (gol/mask-rcnn_r50_fpn_gol_sample1e-3-ms-1x_lvis-v1.py) in all three stages and the mask heads:
# the Gumbel activation with DropLoss (lambda 0.0011), the authors' classifier start (weights
# 0.001, bias -2), a normalised mask predictor (temperature 20).
_base_ = '../eql/cascade-mask-rcnn_r50_fpn_sample1e-3-ms-1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        stage_bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',
            prior_prob=None,
            init_cfg=dict(type='Constant', val=0.001, bias=-2, override=dict(name='fc_cls')),
            loss_cls=dict(
                _delete_=True,
                type='GumbelOptimizedLoss',
                num_classes=1203,
                drop_lambda=0.0011,
                clamp=(-4.0, 10.0),
                max_loss=None,
                loss_weight=1.0)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))  # (sic)
