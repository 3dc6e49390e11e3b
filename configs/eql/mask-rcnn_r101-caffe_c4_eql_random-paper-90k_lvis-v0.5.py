# The EQL paper's Table 1 C4 setting with the MSRA caffe-style ResNet-101 (quoted, LVIS v0.5 val,
# R-101-C4 + EQL: mask AP 24.1 / APr 15.8 / APc 26.8 / APf 24.1, box AP 25.6). The res5 shared head
# has three blocks in both; its weights come from the R-101 file.
_base_ = './mask-rcnn_r50-caffe_c4_eql_random-paper-90k_lvis-v0.5.py'
model = dict(
    backbone=dict(depth=101, init_cfg=dict(checkpoint={{_base_.authors_checkpoint_r101}})),
    roi_head=dict(
        shared_head=dict(depth=101, init_cfg=dict(checkpoint={{_base_.authors_checkpoint_r101}}))))
