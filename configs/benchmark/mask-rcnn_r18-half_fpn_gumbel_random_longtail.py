# The Gumbel activation alone (the GOL README's activation comparison, LVIS v1 R50 1x: sigmoid,
# softmax and Gumbel), like for like with the sigmoid baseline: its head, its classifier start
# (the same prior probability 0.001, here the logit -log(-log 0.001) = -1.93 under the Gumbel
# activation; the authors' configs start at bias -2), its sampler and schedule; only the
# activation and its cross-entropy differ, with the authors' clamps (logits to [-4, 10], each
# term's loss to at most 20, as their README's function). No DropLoss: that is the gol leaf.
_base_ = './mask-rcnn_r18-half_fpn_sigmoid_random_longtail.py'
benchmark = dict(method='gumbel', label='Gumbel activation')

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='GumbelOptimizedLoss',
                num_classes={{_base_.num_classes}},
                clamp=(-4.0, 10.0),
                max_loss=20.0))))
