# The Equalized Focal Loss on the one-stage baseline: only the classification loss changes
# (gamma_b = 2, s = 8, alpha = 0.25, the paper's defaults).
_base_ = './atss_r18-half_fpn_random_longtail.py'
benchmark = dict(method='efl', label='ATSS, EFL')

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
