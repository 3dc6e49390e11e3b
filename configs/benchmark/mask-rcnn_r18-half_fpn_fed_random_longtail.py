# The federated loss (Zhou et al. 2021) on the embedded benchmark, like for like with the sigmoid
# baseline: its head, C sigmoid logits and prior (p = 0.001; the authors' LVIS leaves use 0.01),
# only the loss differs. num_sample_cats is scaled to the benchmark by one rule, fixed before any
# run of this loss (docs/benchmark.md): the median rare class, when absent from a batch, is drawn
# about as often per call as on LVIS. On LVIS (50 classes, 2 images a GPU, simulated with the
# real 100-image LVIS v0.5 val sample and the v0.5 image counts) it is drawn in 0.78 % of calls;
# on steep (8 images a batch, 15 classes present on average) 18 gives 0.90 % (17: 0.60 %),
# about 2 drawn classes a call.
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='fed', label='federated loss')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='FederatedLoss',
                num_classes={{_base_.num_classes}},
                num_sample_cats=18,
                freq_weight_power=0.5))))
