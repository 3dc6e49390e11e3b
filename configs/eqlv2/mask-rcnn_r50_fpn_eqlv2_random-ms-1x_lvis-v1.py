# Mask R-CNN R50-FPN with EQLv2 on LVIS v1, random sampling, 1x: the EQLv2 paper's main setting
# (quoted there: 23.7 mask AP / 24.2 box AP, see configs/README.md).
_base_ = '../eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            # C + 1 sigmoid logits (the last is objectness) through the loss's get_cls_channels;
            # gradient statistics are global across GPUs whenever training is distributed
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLossV2',
                num_classes=1203,
                gamma=12.0,
                mu=0.8,
                alpha=4.0,
                loss_weight=1.0))))
