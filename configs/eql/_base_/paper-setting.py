# The EQL paper's Table 1 setting (eql.detectron2 issue #8 on the authors' released recipe) for a
# leaf that starts from one of mmdet's model bases (the C4 and cascade Table 1 leaves): LVIS v0.5
# data (mmdet's base; random sampling), mmdet's SGD at lr 0.02 for 16 images, the authors' recipe
# (_base_/authors-recipe.py: 90k iterations, their warm-up, weights and checkpoints), single-scale
# training at 800, the project's LVIS metric and hooks. Not a leaf, and no `model`: a leaf lists a
# model base first and this file second, then states its model (configs/README.md, "The paper's
# Table 1, every row"). The FPN Table 1 leaves reach the same fields through the released recipe.
_base_ = [
    'mmdet::_base_/datasets/lvis_v0.5_instance.py', 'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py', './authors-recipe.py'
]
custom_imports = dict(imports=['mmdet_eql'], allow_failed_imports=False)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# random sampling: repeat-factor threshold 0 repeats no image
train_dataloader = dict(
    sampler={{_base_.authors_sampler}},
    dataset=dict(oversample_thr=0.0, dataset=dict(pipeline=train_pipeline)))
train_cfg = {{_base_.authors_train_cfg}}
param_scheduler = {{_base_.authors_param_scheduler}}
default_hooks = dict(checkpoint={{_base_.authors_checkpoint_hook}})
log_processor = dict(by_epoch=False)

custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook')]
# lvis-api's numbers from a compiled evaluator (mmdet_eql.evaluation.FastLVISMetric)
val_evaluator = dict(type='FastLVISMetric')
test_evaluator = val_evaluator
