# Repeat-factor sampling (RFS), LVIS's standard baseline (the EQL paper's Table 5), on the
# like-for-like sigmoid baseline: mmdet's ClassBalancedDataset, as its sample1e-3 LVIS configs use
# it. An image is repeated max(1, sqrt(t / f_c)) times for its rarest class c, f_c the share of
# train images (with annotations) that hold c. On LVIS v1 (100,170 train images) t = 1e-3 is a
# class in 100 images, LVIS's common/frequent boundary: rare and common classes are oversampled,
# frequent ones not. The benchmark keeps that meaning: t = 100 / (its train images with
# annotations), LONGTAIL_FREQ_IMAGES, set by tools/benchmark/run.py from the dataset's
# class-frequency file (small: 100 / 899 = 0.111; steep: 100 / 7155 = 0.0140).
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='rfs', label='sigmoid BCE + RFS')

rfs_images = {{'$LONGTAIL_FREQ_IMAGES:899'}}
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=100 / rfs_images,
        dataset={{_base_.train_dataloader.dataset}}))
