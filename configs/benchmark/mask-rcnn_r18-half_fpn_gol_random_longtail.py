# The Gumbel optimised loss (GOL; Alexandridis et al. 2022) on the embedded benchmark, as the
# authors' LVIS v1 models train it: the Gumbel activation exp(-exp(-z)) on the C-wide sigmoid
# head (logits clamped to [-4, 10], no loss clamp), DropLoss protecting rare + common classes by
# the same lambda as EQL's leaf (100.5 / the train images: between the largest common class and
# the smallest frequent one, as LVIS v1's 0.0011 protects all rare and common classes), the
# classifier started at weights 0.001 and bias -2, and a normalised mask predictor (temperature
# 20). Their repeat-factor sampling is not used: the benchmark's sampler is random for every
# method but the *_rfs leaves.
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='gol', label='GOL (Gumbel + DropLoss)')

freq_images = {{'$LONGTAIL_FREQ_IMAGES:899'}}
model = dict(
    roi_head=dict(
        bbox_head=dict(
            prior_prob=None,
            init_cfg=dict(type='Constant', val=0.001, bias=-2, override=dict(name='fc_cls')),
            loss_cls=dict(
                _delete_=True,
                type='GumbelOptimizedLoss',
                num_classes={{_base_.num_classes}},
                drop_lambda=100.5 / freq_images,
                clamp=(-4.0, 10.0),
                max_loss=None)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
