# The effective class-margin loss (ECM; Cho and Krähenbühl 2022) on the embedded benchmark, with
# the parts of the authors' recipe that belong to the method: C + 1 sigmoid logits (the last
# background), margins and weights from this dataset's train image counts (the class-frequency
# file; background count 6.3313 x the foreground total), a normalised-linear classifier and mask
# predictor at temperature 20 with mmdet's initialisation (bias 0, no prior). The schedule,
# sampler, gradient clipping and warm-up are the benchmark's, the same for every method (the
# authors' LVIS recipe: clipping at norm 5 and a 10,000-iteration warm-up, longer than a run here).
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='ecm', label='ECM')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            prior_prob=None,
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),  # (sic) mmdet's key
            loss_cls=dict(
                _delete_=True,
                type='EffectiveClassMarginLoss',
                num_classes={{_base_.num_classes}},
                fg_bg_ratio=6.3313)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
