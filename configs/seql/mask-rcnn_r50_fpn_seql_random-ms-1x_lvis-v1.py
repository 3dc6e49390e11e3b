# Mask R-CNN R50-FPN with SEQL on LVIS v1, random sampling (the EQL paper's setting), 1x schedule.
_base_ = './mask-rcnn_r50_fpn_seql_sample1e-3-ms-1x_lvis-v1.py'

# Repeat-factor sampling with threshold 0 repeats no image: every image once per epoch.
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
