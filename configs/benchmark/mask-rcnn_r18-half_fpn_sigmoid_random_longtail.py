# The like-for-like sigmoid baseline: EQL's head, loss and prior initialisation with lambda = 0
# (no class protected), i.e. plain sigmoid cross-entropy over the C foreground logits. EQL differs
# from the softmax baseline in two things (sigmoid and the protection); this isolates the second.
_base_ = './mask-rcnn_r18-half_fpn_random_longtail.py'
benchmark = dict(method='sigmoid', label='sigmoid BCE, lambda=0')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq={{_base_.class_freq_file}},
            prior_prob=0.001,
            loss_cls=dict(
                _delete_=True, type='EQLLoss', num_classes={{_base_.num_classes}}, lambda_=0.0))))
custom_hooks = [
    dict(type='ClassFreqCheckHook'),
    dict(type='RNGStateHook'),
    dict(type='GradientRatioMonitorHook', interval=100)
]
