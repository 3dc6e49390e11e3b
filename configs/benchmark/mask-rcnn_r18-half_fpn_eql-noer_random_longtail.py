# EQL (rare + common, lambda as the EQL leaf) without E(r), the EQL paper's Table 4 ablation:
# background RoIs drop the protected classes' negative terms too (EQLLoss(protect_background=
# True)); the paper: more false positives, APf 25.1 -> 23.1 (quoted).
_base_ = './mask-rcnn_r18-half_fpn_eql_random_longtail.py'
benchmark = dict(method='eql-noer', label='EQL, rare+common, without E(r)')

model = dict(roi_head=dict(bbox_head=dict(loss_cls=dict(protect_background=True))))
