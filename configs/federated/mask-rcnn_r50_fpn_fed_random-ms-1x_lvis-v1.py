# Mask R-CNN R50-FPN with the federated loss on LVIS v1, random sampling, 1x schedule.
_base_ = './mask-rcnn_r50_fpn_fed_sample1e-3-ms-1x_lvis-v1.py'

# Repeat-factor sampling with threshold 0 repeats no image (r = max(1, sqrt(0 / f)) = 1): every
# image once per epoch, i.e. random sampling over the same dataset definition.
train_dataloader = dict(dataset=dict(oversample_thr=0.0))
