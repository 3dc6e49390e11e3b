# mmdet 3.3.0's own EQLV2Loss as shipped (softmax over its logits at test time, weights ignored),
# on the softmax baseline's head: the comparison for our EqualizationLossV2.
_base_ = './mask-rcnn_r18-half_fpn_random_longtail.py'
benchmark = dict(method='eqlv2-mmdet', label='EQLV2Loss (mmdet, as shipped)')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EQLV2Loss',
                num_classes={{_base_.num_classes}},
                use_sigmoid=True,
                gamma=12,
                mu=0.8,
                alpha=4.0))))
