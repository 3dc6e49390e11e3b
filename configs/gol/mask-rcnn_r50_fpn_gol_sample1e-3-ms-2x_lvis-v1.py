# GOL as its authors' LVIS v1 R50 model trains (README: GOL_r50_v1, quoted 27.7 mask AP / 21.4
# APr / 27.7 APc / 30.4 APf, 27.5 box AP): the 1x leaf at 24 epochs, steps at 16 and 22, with
# their 500-iteration warm-up from 0.001 (mmdet's). They train 4 GPUs x 4 images at lr 0.02,
# the same 16 images an iteration as mmdet's 8 x 2.
_base_ = './mask-rcnn_r50_fpn_gol_sample1e-3-ms-1x_lvis-v1.py'

train_cfg = dict(max_epochs=24)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1)
]
