# Cascade Mask R-CNN R50-FPN with the Equalization Loss on LVIS v1 (repeat-factor sampling 1e-3,
# 1x): the cascade root with the EQL leaf's difference from mmdet's Mask R-CNN
# (eql/mask-rcnn_r50_fpn_eql_sample1e-3-ms-1x_lvis-v1.py) in all three stages. The EQL paper's
# Table 1 trains EQL in a Cascade Mask R-CNN on LVIS v0.5: eql/cascade-mask-rcnn_r50-caffe_fpn_*.
_base_ = './cascade-mask-rcnn_r50_fpn_sample1e-3-ms-1x_lvis-v1.py'

# lambda = 0.0011: protects 815 of 1203 classes (f_j < lambda, f_j = image_count / 99,388)
model = dict(
    roi_head=dict(
        stage_bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',  # shipped LVIS v1 train statistics
            prior_prob=0.001,  # classifier bias -log((1 - p) / p), as the authors initialise it
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='EQLLoss',
                num_classes=1203,
                lambda_=0.0011,
                loss_weight=1.0))))
