# The sigmoid baseline of the EQL paper's Table 1 in a Mask R-CNN R-101-C4 (quoted, LVIS v0.5 val:
# mask AP 21.8 / APr 10.5 / APc 23.4 / APf 24.2, box AP 22.9): lambda 0 on the R-101-C4 EQL leaf.
_base_ = './mask-rcnn_r101-caffe_c4_eql_random-paper-90k_lvis-v0.5.py'
model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.0))))
