# Test-time settings for AP-fixed and AP-pool (Dave et al. 2021, the LVIS challenge's metric since
# 2021) of ECM (Mask R-CNN R50-FPN, LVIS v1):
#   tools/test.py THIS_CONFIG CHECKPOINT
# The per-image cap rises from 300 to 1000 and FastLVISMetric keeps each category's 10,000 best
# detections over the dataset (configs/README.md, "AP-fixed and AP-pool").
_base_ = './mask-rcnn_r50_fpn_ecm_sample1e-3-ms-1x_lvis-v1.py'

model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=1000)))
val_evaluator = dict(protocol='fixed', dets_per_cat=10000, pooled=True)
test_evaluator = val_evaluator
