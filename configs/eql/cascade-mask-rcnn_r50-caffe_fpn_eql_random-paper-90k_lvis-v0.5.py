# EQL in a Cascade Mask R-CNN R-50-FPN, the EQL paper's Table 1 setting (Tan et al., CVPR 2020;
# quoted, LVIS v0.5 val: mask AP 23.1 / APr 10.4 / APc 24.5 / APf 26.3, box AP 23.1; its sigmoid
# baseline 21.1 / 6.3 / 21.6 / 26.5, 21.1). mmdet's Cascade Mask R-CNN (three stages at IoU 0.5,
# 0.6, 0.7, class-agnostic box regression, stage loss weights 1, 0.5, 0.25; the paper does not give
# its cascade's settings) with EQL in every stage (FreqAwareCascadeRoIHead's stage_bbox_head), in
# the recipe of the FPN Table 1 leaf (mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py):
# the authors' MSRA caffe-style ResNet-50, 90k iterations of 16 images, single scale 800, 2,000
# proposals an image after NMS in training, a class-agnostic mask head, smooth L1 box losses
# (mmdet's cascade has them already), lambda 0.00177. Field by field: configs/README.md, "EQL as
# its authors trained it"; tests/test_configs/test_recipes.py.
_base_ = ['mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py', './_base_/paper-setting.py']

model = dict(
    data_preprocessor={{_base_.authors_model.data_preprocessor}},
    backbone={{_base_.authors_model.backbone}},
    roi_head=dict(
        type='FreqAwareCascadeRoIHead',
        stage_bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            num_classes=1230,
            class_freq='lvis_v0.5',  # shipped LVIS v0.5 train statistics
            prior_prob=0.001,  # classifier bias -log((1 - p) / p), as the authors initialise it
            loss_cls=dict(
                type='EQLLoss',
                num_classes=1230,
                lambda_=0.00177,  # the 915 rare + common classes (configs/README.md)
                loss_weight=1.0)),
        mask_head=dict(num_classes=1230, class_agnostic=True)),
    # LVIS's test settings: score threshold 1e-4 and up to 300 detections an image
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
