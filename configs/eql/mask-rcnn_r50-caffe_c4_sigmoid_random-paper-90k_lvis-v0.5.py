# The sigmoid baseline of the EQL paper's Table 1 in a Mask R-CNN R-50-C4 (quoted, LVIS v0.5 val:
# mask AP 19.7 / APr 7.9 / APc 21.1 / APf 22.8, box AP 20.3): the C4 EQL leaf with lambda 0, so the
# same sigmoid head and prior, and no class protected.
_base_ = './mask-rcnn_r50-caffe_c4_eql_random-paper-90k_lvis-v0.5.py'
model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.0))))
