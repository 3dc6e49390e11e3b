# Mask R-CNN R50-FPN with the Gumbel optimised loss (GOL; Alexandridis et al., ECCV 2022) on LVIS
# v1, with what the authors' LVIS v1 models train with (kostas1515/GOL, README: GOL_r50_v1,
# droploss_normed_mask_r50_rfs_4x4_2x_gumbel.py): the Gumbel activation exp(-exp(-z)) on a C-wide
# sigmoid head, DropLoss with lambda 0.0011 on the LVIS v1 frequencies, a normalised mask predictor
# (temperature 20), mmdet's repeat-factor sampling (ClassBalancedDataset, oversample_thr=1e-3) and
# multi-scale training. Their models train 2x (16 images an iteration, steps at 16 and 22): the
# 2x leaf beside this one; this is the same at mmdet's 1x.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# ImageNet-pretrained ResNet-50 by URL (torchvision's IMAGENET1K_V1 file; no torchvision needed;
# mmengine caches it in $TORCH_HOME/hub/checkpoints/, where it can be put by hand offline).
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',  # writes the LVIS v1 frequencies into the loss
            class_freq='lvis_v1',
            prior_prob=None,
            # the authors' classifier start: weights 0.001 and bias -2 (p = exp(-e^2) = 6e-4 for
            # every class); as in their configs this init_cfg replaces the head's whole list, so
            # the shared fully connected layers keep PyTorch's default initialisation
            init_cfg=dict(type='Constant', val=0.001, bias=-2, override=dict(name='fc_cls')),
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='GumbelOptimizedLoss',
                num_classes=1203,
                drop_lambda=0.0011,  # DropLoss on the 815 classes with f_j < 0.0011
                clamp=(-4.0, 10.0),
                max_loss=None,  # their DropLoss code does not clamp the loss
                loss_weight=1.0)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))  # (sic)

# Stops at the start if the frequencies' category names differ from the dataset's; DropLoss's
# draws come from torch's generator, whose state goes into every checkpoint (exact resume).
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
