# The EQL paper's Table 1 cascade setting with the MSRA caffe-style ResNet-101 (quoted, LVIS v0.5
# val, Cascade R-101-FPN + EQL: mask AP 24.9 / APr 10.3 / APc 27.3 / APf 27.8, box AP 27.9).
_base_ = './cascade-mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py'
model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint={{_base_.authors_checkpoint_r101}})))
