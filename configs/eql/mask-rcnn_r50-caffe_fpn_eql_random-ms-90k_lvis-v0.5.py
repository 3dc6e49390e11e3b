# EQL as its authors released it (eql_mask_rcnn_R_50_FPN_1x.yaml; their README's "EQL" row, quoted,
# LVIS v0.5 val: mask AP 24.0 / APr 9.4 / APc 25.2 / APf 28.4, box AP 23.6): the EQL leaf of this
# folder (lambda 0.00177, the sigmoid head's prior 0.001, random sampling, scale jitter 640-800)
# in the authors' recipe (_base_/authors-recipe.py: the MSRA caffe-style ResNet-50, 90k iterations
# of 16 images, steps at 60k and 80k).
_base_ = ['./mask-rcnn_r50_fpn_eql_random-ms-2x_lvis-v0.5.py', './_base_/authors-recipe.py']
model = {{_base_.authors_model}}
train_cfg = {{_base_.authors_train_cfg}}
param_scheduler = {{_base_.authors_param_scheduler}}
train_dataloader = dict(sampler={{_base_.authors_sampler}})
default_hooks = dict(checkpoint={{_base_.authors_checkpoint_hook}})
log_processor = dict(by_epoch=False)
