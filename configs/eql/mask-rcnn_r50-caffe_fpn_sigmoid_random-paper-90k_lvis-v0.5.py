# The sigmoid baseline of the paper's Table 1 (quoted, LVIS v0.5 val, R-50-FPN: mask AP 20.1 / APr
# 7.2 / APc 19.9 / APf 25.4, box AP 20.5): the paper-setting EQL leaf with lambda 0, so the same
# sigmoid head and prior, and no class protected.
_base_ = './mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py'
model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.0))))
