# Cascade Mask R-CNN R50-FPN with EQLv2 on LVIS v1, random sampling, 1x: the cascade root with the
# EQLv2 leaf's difference from mmdet's Mask R-CNN (eqlv2/mask-rcnn_r50_fpn_eqlv2_random-ms-1x_lvis-
# v1.py) in all three stages: mmdet's plain head with C + 1 sigmoid logits (the last objectness),
# one set of gradient statistics per stage (each stage's loss is its own module).
_base_ = '../eql/cascade-mask-rcnn_r50_fpn_sample1e-3-ms-1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        stage_bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLossV2',
                num_classes=1203,
                gamma=12.0,
                mu=0.8,
                alpha=4.0,
                loss_weight=1.0))))
# random sampling: repeat-factor threshold 0 repeats no image
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
