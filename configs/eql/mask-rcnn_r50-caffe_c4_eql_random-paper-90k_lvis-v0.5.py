# EQL in a Mask R-CNN R-50-C4, the EQL paper's Table 1 setting (Tan et al., CVPR 2020; quoted,
# LVIS v0.5 val: mask AP 22.5 / APr 14.4 / APc 24.9 / APf 22.6, box AP 23.1; its sigmoid baseline
# 19.7 / 7.9 / 21.1 / 22.8, 20.3). mmdet's C4 model (res4 features for the RPN, RoIAlign 14 x 14,
# res5 as the shared head, then mmdet's plain BBoxHead: average pool, one linear layer each) with
# the frequency-aware BBoxHead, in the same recipe as the FPN Table 1 leaf
# (mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py): the authors' MSRA caffe-style
# ResNet-50, 90k iterations of 16 images, single scale 800, a class-agnostic mask head, smooth L1
# box losses, lambda 0.00177. Proposals are detectron2's C4 defaults, which mmdet's C4 model has:
# 12,000 before and 2,000 after NMS in training (the paper's 2,000), 6,000 and 1,000 at test.
# Field by field: configs/README.md, "EQL as its authors trained it"; tests/test_configs/
# test_recipes.py.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50-caffe-c4.py', './_base_/paper-setting.py']

model = dict(
    # mmdet's C4 model is already caffe-style with frozen BN and stem + stage 1; the weights by URL
    data_preprocessor={{_base_.authors_model.data_preprocessor}},
    backbone={{_base_.authors_model.backbone}},
    rpn_head=dict(
        loss_bbox=dict(_delete_=True, type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        # res5 from the same ImageNet file (its layer4.* weights), as detectron2's C4 starts: mmdet
        # 3.3's C4 model gives the shared head no init_cfg, so res5 would start at Kaiming init
        # with its frozen BatchNorm at weight 1 / bias 0 (mmdet 2.x passed `pretrained` to it)
        shared_head=dict(
            init_cfg=dict(type='Pretrained', checkpoint={{_base_.authors_checkpoint_r50}})),
        bbox_head=dict(
            type='FreqAwareBBoxHead',
            num_classes=1230,
            class_freq='lvis_v0.5',  # shipped LVIS v0.5 train statistics
            prior_prob=0.001,  # classifier bias -log((1 - p) / p), as the authors initialise it
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='EQLLoss',
                num_classes=1230,
                lambda_=0.00177,  # the 915 rare + common classes (configs/README.md)
                loss_weight=1.0),
            loss_bbox=dict(_delete_=True, type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        mask_head=dict(num_classes=1230, class_agnostic=True)),
    # LVIS's test settings: score threshold 1e-4 and up to 300 detections an image
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
