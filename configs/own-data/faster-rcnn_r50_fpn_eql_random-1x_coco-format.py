# Faster R-CNN R50-FPN with EQL on your own box-only COCO-format dataset (docs/own_data.md): the
# Mask R-CNN template of this folder without its mask head, on mmdet's COCO Faster R-CNN (box
# metric only). tools/misc/own_data_leaf.py writes a copy of this file when the train file has no
# segmentation, with the block below filled in from your annotation files (classes in the order
# of their ids, the class-frequency file, lambda); or edit the block by hand.
# ---- your dataset ----
data_root = 'data/own_data/'
train_ann_file = 'annotations/train.json'
train_img_prefix = 'train/'
val_ann_file = 'annotations/val.json'
val_img_prefix = 'val/'
# the categories in the order of their ids (mmdet numbers the labels so)
classes = ('car', 'bus', 'bicycle')
# tools/analysis_tools/class_frequency.py TRAIN_ANN --out FILE (its ids and names must be these)
class_freq = 'data/own_data/annotations/class_freq.json'
# the paper's tail ratio: the least frequent classes with 9.1 % of the train instances protected
lambda_choice = dict(lambda_=None, tail_ratio=0.091)
# ---- end of your dataset ----

_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)
metainfo = dict(classes=classes)
num_classes = len(classes)

model = dict(
    # torchvision's ImageNet ResNet-50 by URL: no torchvision needed (configs/README.md)
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            num_classes=num_classes,
            class_freq=class_freq,
            prior_prob=0.001,  # the EQL authors' classifier bias
            loss_cls=dict(_delete_=True, type='EQLLoss', num_classes=num_classes, **
                          lambda_choice))))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_img_prefix),
        metainfo=metainfo))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_img_prefix),
        metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = val_evaluator
# the project's hooks: stop if the frequencies name other classes; exact resume
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]
