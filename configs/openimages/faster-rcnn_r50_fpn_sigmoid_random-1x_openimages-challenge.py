# The sigmoid baseline of the EQL paper's Table 6 (quoted, OID19 val: AP 48.13, AP1..AP5 59.86 /
# 51.24 / 49.31 / 46.51 / 33.72): the Open Images EQL leaf with lambda 0, so the same sigmoid head
# and prior, and no class protected.
_base_ = './faster-rcnn_r50_fpn_eql_random-1x_openimages-challenge.py'
model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.0))))
