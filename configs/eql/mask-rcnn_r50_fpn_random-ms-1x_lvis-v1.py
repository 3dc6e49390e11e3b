# Baseline: mmdet's Mask R-CNN R50-FPN (softmax cross-entropy) on LVIS v1, random sampling,
# 1x schedule: the baseline the EQL paper compares with.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# Repeat-factor sampling with threshold 0 repeats no image (r = max(1, sqrt(0 / f)) = 1): every
# image once per epoch, i.e. random sampling over the same dataset definition.
train_dataloader = dict(dataset=dict(oversample_thr=0.0))

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
# torch's generator state in checkpoints: a run resumed after a crash continues exactly
custom_hooks = [dict(type='RNGStateHook')]
