# EQL protecting rare classes only (1-10 train images): lambda = 0.0117 lies between f = 10 / ~899
# (0.0111) and 11 / ~899 (0.0122).
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random-900it_longtail-small.py'
benchmark = dict(method='eql-rare', label='EQL, rare only')

model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.0117))))
