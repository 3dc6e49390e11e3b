# Mask R-CNN R101-FPN with the federated loss on LVIS v1, random sampling, 1x schedule.
_base_ = './mask-rcnn_r101_fpn_fed_sample1e-3-ms-1x_lvis-v1.py'

# Repeat-factor sampling with threshold 0 repeats no image: random sampling.
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
