# The Softmax Equalization Loss (SEQL, the EQL paper's second loss) on the embedded benchmark, like
# for like with the softmax baseline: mmdet's softmax head (C + 1 outputs), only the loss differs.
# lambda as the EQL leaf's (rare + common protected, the paper's choice on LVIS v0.5); gamma = 0.9,
# the paper's ImageNet-LT value (its Table 9), fixed before any run of this loss.
_base_ = './mask-rcnn_r18-half_fpn_random-900it_longtail-small.py'
benchmark = dict(method='seql', label='softmax EQL, gamma 0.9')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxEQLLoss',
                num_classes={{_base_.num_classes}},
                lambda_=0.112,
                gamma=0.9,
                class_freq={{_base_.class_freq_file}}))))
custom_hooks = [
    dict(type='ClassFreqCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='GradientRatioMonitorHook', interval=100)
]
