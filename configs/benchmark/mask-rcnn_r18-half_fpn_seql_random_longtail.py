# The Softmax Equalization Loss (SEQL, the EQL paper's second loss) on the embedded benchmark, like
# for like with the softmax baseline: mmdet's softmax head (C + 1 outputs), only the loss differs.
# lambda as the EQL leaf's (rare + common protected on every preset, the paper's choice on LVIS
# v0.5: 100.5 / the train images with annotations); gamma = 0.9, the paper's ImageNet-LT value
# (its Table 9), fixed before any run of this loss. Until 2026-11-29 lambda was 0.112, right on
# small only (on steep it protected 16 frequent classes too).
_base_ = './mask-rcnn_r18-half_fpn_random_longtail.py'
benchmark = dict(method='seql', label='softmax EQL, gamma 0.9')

freq_images = {{'$LONGTAIL_FREQ_IMAGES:899'}}
model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxEQLLoss',
                num_classes={{_base_.num_classes}},
                lambda_=100.5 / freq_images,
                gamma=0.9,
                class_freq={{_base_.class_freq_file}}))))
custom_hooks = [
    dict(type='ClassFreqCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='GradientRatioMonitorHook', interval=100)
]
