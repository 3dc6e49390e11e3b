# EQL + resampling as its authors released it (eql_resampling_mask_rcnn_R_50_FPN_1x.yaml; their
# README's "EQL + resampling" row, quoted, LVIS v0.5 val: mask AP 26.1 / APr 17.2 / APc 27.3 /
# APf 28.2, box AP 25.4): the authors' EQL recipe with repeat-factor sampling at their threshold
# 5e-4 (mmdet's LVIS configs use 1e-3), by mmdet's ClassBalancedDataset.
_base_ = './mask-rcnn_r50-caffe_fpn_eql_random-ms-90k_lvis-v0.5.py'
train_dataloader = dict(dataset=dict(oversample_thr=5e-4))
