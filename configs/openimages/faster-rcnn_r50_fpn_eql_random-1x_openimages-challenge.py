# EQL on Open Images, as the EQL paper's Table 6 runs it (Tan et al., CVPR 2020: the 2019
# challenge's 500 classes, R-50, lambda 3e-4, which protects the least frequent classes holding
# 3 % of the train boxes there; quoted, OID19 val: AP 57.83, AP1..AP5 64.95 / 60.18 / 61.17 /
# 58.23 / 44.6; its sigmoid baseline 48.13, the leaf beside this one). mmdet's Open Images
# challenge Faster R-CNN R50-FPN (32 GPUs x 2 images, lr 0.08, 1x) reading the challenge's own
# CSV files (box annotations, class descriptions, label hierarchy; image metas by mmdet's
# tools/misc/get_image_metas.py), checked before loading, with the frequency-aware sigmoid head
# (C = 500 logits, prior 0.001). The paper does not give its Open Images schedule; this is mmdet's.
#
# The class frequencies: tools/analysis_tools/class_frequency.py on the train box file (with
# --label-file and --hierarchy-file) writes challenge2019/class_freq.json under the data root,
# and prints the tail ratio each lambda gives (configs/README.md, "Open Images").
# Evaluation: mmdet's Open Images metric (IoU 0.5, group-of boxes, parents expanded) and the
# paper's AP1..AP5 (OpenImagesGroupMetric: the classes sorted by training frequency, five groups).
_base_ = 'mmdet::openimages/faster-rcnn_r50_fpn_32xb2-1x_openimages-challenge.py'
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

data_root = 'data/OpenImages/'
class_freq = data_root + 'challenge2019/class_freq.json'
challenge_files = dict(
    label_file='challenge2019/challenge-2019-classes-description-500.csv',
    hierarchy_file='challenge2019/challenge-2019-label500-hierarchy.json')

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(
        bbox_head=dict(
            type='FreqAwareShared2FCBBoxHead',
            class_freq=class_freq,
            prior_prob=0.001,  # classifier bias -log((1 - p) / p), as the authors initialise it
            loss_cls=dict(
                _delete_=True,  # drop CrossEntropyLoss's keys (use_sigmoid=False, ...)
                type='EQLLoss',
                num_classes=500,
                lambda_=0.0003,
                loss_weight=1.0))))

train_dataloader = dict(
    dataset=dict(
        type='CheckedOpenImagesDataset',
        data_root=data_root,
        ann_file='challenge2019/challenge-2019-train-detection-bbox.csv',
        data_prefix=dict(img='OpenImages/train/'),
        meta_file='challenge2019/challenge-2019-train-metas.pkl',
        **challenge_files))
val_dataloader = dict(
    dataset=dict(
        type='CheckedOpenImagesDataset',
        data_root=data_root,
        ann_file='challenge2019/challenge-2019-validation-detection-bbox.csv',
        data_prefix=dict(img='OpenImages/validation/'),
        meta_file='challenge2019/challenge-2019-validation-metas.pkl',
        image_level_ann_file='challenge2019/challenge-2019-validation-detection-human-'
        'imagelabels.csv',
        **challenge_files))
test_dataloader = val_dataloader
val_evaluator = dict(type='OpenImagesGroupMetric', class_freq=class_freq, num_groups=5)
test_evaluator = val_evaluator
custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]
