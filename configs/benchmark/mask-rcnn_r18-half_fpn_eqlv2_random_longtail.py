# EQLv2 on the embedded benchmark: the sigmoid baseline's head and prior initialisation (the C
# class logits start at p = 0.001; the objectness logit keeps mmdet's zero bias), the loss
# replaced by EqualizationLossV2 (C + 1 sigmoid logits, gamma 12, mu 0.8, alpha 4). EQLv2 needs no
# class frequencies: its weights come from the gradient statistics gathered during training.
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='eqlv2', label='EQLv2 (ours)')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLossV2',
                num_classes={{_base_.num_classes}},
                gamma=12.0,
                mu=0.8,
                alpha=4.0))))
