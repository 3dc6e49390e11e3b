# Cascade Mask R-CNN R50-FPN on LVIS v1 with mmdet's softmax cross-entropy: the cascade root every
# family's cascade leaf inherits (configs/README.md, "Cascade Mask R-CNN"). mmdet's own cascade
# model and LVIS v1 data (repeat-factor sampling, ClassBalancedDataset with oversample_thr=1e-3,
# multi-scale training as its LVIS Mask R-CNN), 1x, LVIS's test settings, with the project's
# cascade RoI head: the fields of `stage_bbox_head` go into each of the three stages' bbox heads
# (a child changes the loss of all three in one dict), and the test-time ensemble is the mean of
# the stages' scores under each stage's loss's activation (FreqAwareCascadeRoIHead).
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/lvis_v1_instance.py', 'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

# ImageNet-pretrained ResNet-50 by URL (torchvision's IMAGENET1K_V1 file; no torchvision needed;
# mmengine caches it in $TORCH_HOME/hub/checkpoints/, where it can be put by hand offline).
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        type='FreqAwareCascadeRoIHead',
        # every stage: 1203 classes and mmdet's softmax loss (a family's leaf replaces the loss
        # and the head type here; each stage keeps its own box coder and IoU threshold)
        stage_bbox_head=dict(
            num_classes=1203,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        mask_head=dict(num_classes=1203)),
    # LVIS's test settings: score threshold 1e-4 and up to 300 detections an image
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))

# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]
