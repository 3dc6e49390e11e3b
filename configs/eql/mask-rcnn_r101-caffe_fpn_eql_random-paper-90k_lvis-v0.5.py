# The paper's Table 1 setting with the MSRA caffe-style ResNet-101 (quoted, LVIS v0.5 val,
# R-101-FPN + EQL: mask AP 24.8 / APr 14.6 / APc 26.7 / APf 26.4, box AP 25.2).
_base_ = './mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py'
model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint={{_base_.authors_checkpoint_r101}})))
