# EQL protecting rare + common classes, as the paper's lambda = 0.00177 does on LVIS v0.5. On the
# small preset f_j = image_count / ~899 train images: lambda = 0.112 lies between the largest
# common (100 images, f = 0.1112) and the smallest frequent class (101 images, f = 0.1123).
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random-900it_longtail-small.py'
benchmark = dict(method='eql', label='EQL, rare+common')

model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(lambda_=0.112))))
