# The sigmoid baseline of the paper's Table 1 with the MSRA caffe-style ResNet-101 (quoted, LVIS
# v0.5 val, R-101-FPN baseline: mask AP 22.2 / APr 9.8 / APc 22.6 / APf 26.5, box AP 22.7).
_base_ = './mask-rcnn_r101-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py'
model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.0))))
