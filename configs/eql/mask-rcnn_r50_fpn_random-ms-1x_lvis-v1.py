# Baseline: mmdet's Mask R-CNN R50-FPN (softmax cross-entropy) on LVIS v1, random sampling,
# 1x schedule: the baseline the EQL paper compares with.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# ImageNet-pretrained ResNet-50: torchvision's weights (IMAGENET1K_V1), named by their URL so that
# neither torchvision nor a network at every start is needed (mmdet's base says
# 'torchvision://resnet50', which mmengine resolves by importing torchvision). mmengine downloads
# the file once into torch's hub cache ($TORCH_HOME/hub/checkpoints/), where it can also be put
# by hand on a machine without internet.

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')))

# Repeat-factor sampling with threshold 0 repeats no image (r = max(1, sqrt(0 / f)) = 1): every
# image once per epoch, i.e. random sampling over the same dataset definition.
train_dataloader = dict(dataset=dict(oversample_thr=0.0))

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
# torch's generator state in checkpoints: a run resumed after a crash continues exactly
custom_hooks = [dict(type='RNGStateHook')]
