# The EQL authors' baseline as released (their README's "Mask R-CNN" row; quoted, LVIS v0.5 val,
# mask AP 21.2 / APr 3.2 / APc 21.1 / APf 28.7, box AP 20.8): mmdet's softmax Mask R-CNN R50-FPN in
# the authors' recipe (_base_/authors-recipe.py: the MSRA caffe-style ResNet-50, 90k iterations of
# 16 images, steps at 60k and 80k), random sampling, scale jitter 640-800.
_base_ = ['./mask-rcnn_r50_fpn_random-ms-2x_lvis-v0.5.py', './_base_/authors-recipe.py']
model = {{_base_.authors_model}}
train_cfg = {{_base_.authors_train_cfg}}
param_scheduler = {{_base_.authors_param_scheduler}}
train_dataloader = dict(sampler={{_base_.authors_sampler}})
default_hooks = dict(checkpoint={{_base_.authors_checkpoint_hook}})
log_processor = dict(by_epoch=False)
