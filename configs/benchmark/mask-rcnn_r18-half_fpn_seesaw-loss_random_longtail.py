# mmdet's own SeesawLoss with its normalised linear classifier (as mmdet's LVIS seesaw configs),
# on the softmax baseline: same data, schedule and seed.
_base_ = './mask-rcnn_r18-half_fpn_random_longtail.py'
benchmark = dict(method='seesaw', label='Seesaw (mmdet)')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),  # (sic) mmdet's key
            loss_cls=dict(
                _delete_=True,
                type='SeesawLoss',
                p=0.8,
                q=2.0,
                num_classes={{_base_.num_classes}},
                loss_weight=1.0))))
