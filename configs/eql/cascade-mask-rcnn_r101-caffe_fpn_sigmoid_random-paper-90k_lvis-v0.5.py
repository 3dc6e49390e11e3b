# The sigmoid baseline of the EQL paper's Table 1 in a Cascade Mask R-CNN R-101-FPN (quoted, LVIS
# v0.5 val: mask AP 21.9 / APr 6.0 / APc 22.3 / APf 27.7, box AP 24.7): lambda 0 on the R-101
# cascade EQL leaf.
_base_ = './cascade-mask-rcnn_r101-caffe_fpn_eql_random-paper-90k_lvis-v0.5.py'
model = dict(roi_head=dict(stage_bbox_head=dict(loss_cls=dict(lambda_=0.0))))
