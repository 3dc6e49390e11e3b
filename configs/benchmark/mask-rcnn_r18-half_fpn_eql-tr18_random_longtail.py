# EQL with lambda chosen by the tail ratio (the EQL paper's Table 2 ablation): the protected
# classes are the largest set of least frequent classes holding at most 0.182 of the train
# instances (the paper's lambda = 5e-3 (18.2 %)); EQLLoss sets lambda from the class-frequency
# file's instance counts and logs the ratio it reached (steep: docs/benchmark.md).
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='eql-tr18', label='EQL, tail ratio 0.182')

model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=None, tail_ratio=0.182))))
