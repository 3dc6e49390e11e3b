# For a fair table: mmdet's own SeesawLoss (Wang et al., CVPR 2021) with its normalised linear
# classifier, exactly as mmdet's seesaw_loss configs set it, on the same data, sampler and 1x
# schedule as the EQL / EQLv2 configs. (mmdet's model zoo reports it at 2x with RFS.)
_base_ = '../eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),  # (sic) mmdet's key
            loss_cls=dict(
                _delete_=True, type='SeesawLoss', p=0.8, q=2.0, num_classes=1203,
                loss_weight=1.0))))
