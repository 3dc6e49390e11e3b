# Cascade Mask R-CNN R50-FPN with the federated loss on LVIS v1 (repeat-factor sampling 1e-3, 1x):
# the cascade root with the federated leaf's difference from mmdet's Mask R-CNN
# (federated/mask-rcnn_r50_fpn_fed_sample1e-3-ms-1x_lvis-v1.py) in all three stages. The authors
# published the loss in a cascade (CenterNet2: a CenterNet proposal network and three cascade
# stages, each with the federated loss); this leaf keeps mmdet's RPN.
_base_ = '../eql/cascade-mask-rcnn_r50_fpn_sample1e-3-ms-1x_lvis-v1.py'

# 50 classes a call (those present, then drawn by image_count ** 0.5), prior p = 0.01
model = dict(
    roi_head=dict(
        stage_bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq='lvis_v1',
            prior_prob=0.01,
            loss_cls=dict(
                _delete_=True,
                type='FederatedLoss',
                num_classes=1203,
                num_sample_cats=50,
                freq_weight_power=0.5,
                loss_weight=1.0))))
