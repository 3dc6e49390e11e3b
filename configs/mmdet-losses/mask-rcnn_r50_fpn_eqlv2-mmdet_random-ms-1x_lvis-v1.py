# For a fair table: mmdet 3.3.0's own EQLV2Loss, as shipped (per-GPU statistics by default,
# softmax over its sigmoid logits at test time because it does not implement the bbox head's
# custom_* contract, weights ignored), on the same data and schedule as our EqualizationLossV2
# (configs/eqlv2/). Kept to measure the difference, not to recommend it.
_base_ = '../eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EQLV2Loss',
                num_classes=1203,
                use_sigmoid=True,
                gamma=12,
                mu=0.8,
                alpha=4.0,
                loss_weight=1.0))))
