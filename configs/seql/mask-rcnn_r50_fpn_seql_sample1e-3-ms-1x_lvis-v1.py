# Mask R-CNN R50-FPN with the Softmax Equalization Loss (SEQL; Tan et al., CVPR 2020, the paper's
# second loss) on mmdet's own softmax RoI head (C + 1 outputs, background last, softmax at test),
# LVIS v1, mmdet's repeat-factor sampling (ClassBalancedDataset, oversample_thr=1e-3), 1x.
_base_ = '../eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py'

# lambda = 0.0011 as for the sigmoid EQL on LVIS v1 (the EQLv2 authors' value): protects 815 of
# 1203 classes. gamma = 0.9: the paper's value on ImageNet-LT (its Table 9, the larger of its two
# classification benchmarks; on CIFAR-100-LT it reports 0.95 and 0.9); the paper gives no
# detection setting for SEQL. Each foreground RoI protects with probability gamma; background
# RoIs and the background logit are never protected.
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys
                type='SoftmaxEQLLoss',
                num_classes=1203,
                lambda_=0.0011,
                gamma=0.9,
                class_freq='lvis_v1',  # shipped LVIS v1 train statistics
                loss_weight=1.0))))
train_dataloader = dict(dataset=dict(oversample_thr=1e-3))
# Stops at the start if the frequencies' category names differ from the dataset's; beta is drawn
# from torch's generator, whose state goes into every checkpoint (exact resume).
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]
