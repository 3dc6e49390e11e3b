# The sigmoid baseline of the EQL paper's Table 1 in a Cascade Mask R-CNN R-50-FPN (quoted, LVIS
# v0.5 val: mask AP 21.1 / APr 6.3 / APc 21.6 / APf 26.5, box AP 21.1): the cascade EQL leaf with
# lambda 0 in every stage, so the same sigmoid heads and prior, and no class protected.
_base_ = './cascade-mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py'
model = dict(roi_head=dict(stage_bbox_head=dict(loss_cls=dict(lambda_=0.0))))
