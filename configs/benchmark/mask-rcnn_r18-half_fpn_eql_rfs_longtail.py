# EQL (rare + common, lambda as the EQL leaf) with repeat-factor sampling: the EQL authors' best
# LVIS v0.5 setting (their README: EQL + RFS). RFS exactly as the sigmoid + RFS leaf: mmdet's
# ClassBalancedDataset, t = 100 / (train images with annotations), the meaning of mmdet's 1e-3
# on LVIS v1.
_base_ = './mask-rcnn_r18-half_fpn_eql_random_longtail.py'
benchmark = dict(method='eql-rfs', label='EQL, rare+common + RFS')

rfs_images = {{'$LONGTAIL_FREQ_IMAGES:899'}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=100 / rfs_images,
        dataset={{_base_.train_dataloader.dataset}}))
