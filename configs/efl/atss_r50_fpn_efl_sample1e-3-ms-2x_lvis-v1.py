# ATSS R50-FPN with the Equalized Focal Loss on LVIS v1 (Li et al., CVPR 2022): the focal loss of
# the baseline replaced, nothing else. gamma_b = 2, s = 8, alpha = 0.25 (the paper's defaults).
_base_ = './atss_r50_fpn_sample1e-3-ms-2x_lvis-v1.py'

model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='EqualizedFocalLoss',
            num_classes={{_base_.num_classes}},
            use_sigmoid=True,  # the head sizes its classifier from this key (C outputs)
            gamma_b=2.0,
            scale_factor=8.0,
            alpha=0.25,
            loss_weight=1.0)))
