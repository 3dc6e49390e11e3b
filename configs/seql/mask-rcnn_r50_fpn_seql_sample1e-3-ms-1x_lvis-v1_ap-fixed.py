# Test-time settings for AP-fixed and AP-pool (Dave et al. 2021, the LVIS challenge's metric since
# 2021) of the softmax EQL (Mask R-CNN R50-FPN, LVIS v1):
#   tools/test.py THIS_CONFIG CHECKPOINT
# As the EQL family's AP-fixed leaf: 1000 detections an image, each category's 10,000 best kept
# over the dataset (configs/README.md, docs/evaluation.md).
_base_ = './mask-rcnn_r50_fpn_seql_sample1e-3-ms-1x_lvis-v1.py'

model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=1000)))
val_evaluator = dict(protocol='fixed', dets_per_cat=10000, pooled=True)
test_evaluator = val_evaluator
