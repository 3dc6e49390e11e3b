# eql-noer on the pre-trained start with the paper's conditions (_base_/pretrained-start.py): the
# method is its leaf in configs/longtail-demo/, unchanged.
_base_ = [
    '../longtail-demo/mask-rcnn_r18-half_fpn_eql-noer_random-900it_longtail-small.py',
    './_base_/pretrained-start.py'
]
benchmark = dict(method='eql-noer', label='EQL, rare+common, without E(r)')

model = {{_base_.pretrained_two_stage}}
optim_wrapper = {{_base_.pretrained_optim_wrapper}}
