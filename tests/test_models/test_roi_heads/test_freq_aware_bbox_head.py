import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS

from mmdet_eql.models.roi_heads.bbox_heads import FreqAwareShared2FCBBoxHead  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def head_cfg(**kw):
    cfg = dict(
        type='FreqAwareShared2FCBBoxHead',
        in_channels=4,
        fc_out_channels=16,
        roi_feat_size=2,
        num_classes=5,
        class_freq=[1e-4, 0.2, 1e-5, 0.5, 0.3],
        loss_cls=dict(type='EQLLoss', num_classes=5, lambda_=1e-3))
    cfg.update(kw)
    return cfg


def test_head_hands_frequencies_to_loss_and_sets_prior_bias():
    head = MODELS.build(head_cfg())
    assert head.loss_cls.tail_mask.tolist() == [True, False, True, False, False]
    assert head.fc_cls.out_features == 5  # custom_cls_channels: no background logit
    head.init_weights()
    # -log((1 - p) / p) for p = 0.001, as the EQL authors initialise it
    torch.testing.assert_close(head.fc_cls.bias.data, torch.full((5, ), -6.9067547786))
    other = MODELS.build(head_cfg(prior_prob=0.01))
    other.init_weights()
    torch.testing.assert_close(other.fc_cls.bias.data, torch.full((5, ), -4.5951198501))


def test_head_predicts_sigmoid_scores_with_background_column():
    head = MODELS.build(head_cfg())
    head.init_weights()
    cls_score, bbox_pred = head(torch.randn(3, 4, 2, 2))
    assert cls_score.shape == (3, 5)
    scores = head.loss_cls.get_activation(cls_score)
    assert scores.shape == (3, 6) and (scores[:, -1] == 0).all()
    # right after init every score is close to the prior
    assert scores[:, :5].mean().item() == pytest.approx(0.001, rel=0.5)


def test_head_with_softmax_loss_keeps_mmdet_init():
    head = MODELS.build(head_cfg(class_freq=None, loss_cls=dict(type='CrossEntropyLoss')))
    head.init_weights()
    assert head.fc_cls.out_features == 6
    assert (head.fc_cls.bias.data == 0).all()


def test_head_checks_num_classes_and_names():
    with pytest.raises(
            ValueError, match='4 entries but FreqAwareShared2FCBBoxHead has '
            'num_classes=5'):
        MODELS.build(head_cfg(class_freq=[0.1] * 4))
    with pytest.raises(ValueError, match='declare them once'):
        MODELS.build(head_cfg(loss_cls=dict(type='EQLLoss', num_classes=5, class_freq=[0.1] * 5)))
    # neither the head nor the loss has frequencies: the loss refuses to be built
    with pytest.raises(ValueError, match='EQLLoss built without class frequencies'):
        MODELS.build(head_cfg(class_freq=None))
    head = MODELS.build(
        head_cfg(
            num_classes=1203, class_freq='lvis_v1', loss_cls=dict(type='EQLLoss',
                                                                  num_classes=1203)))
    from mmdet.datasets import LVISV1Dataset, LVISV05Dataset
    head.check_class_names(LVISV1Dataset.METAINFO['classes'])
    with pytest.raises(ValueError, match='LVIS v0.5 against v1'):
        head.check_class_names(LVISV05Dataset.METAINFO['classes'][:1203])
    # the same names in another order (a user's classes listed otherwise than by id): said so
    shuffled = list(LVISV1Dataset.METAINFO['classes'])
    shuffled[0], shuffled[1] = shuffled[1], shuffled[0]
    with pytest.raises(ValueError, match='the same names in another order'):
        head.check_class_names(shuffled)


def test_softmax_eql_from_an_eql_leaf_is_one_small_child(tmp_path):
    """The README's softmax-EQL snippet works as written: a child of an EQL leaf that sets only
    loss_cls gets the softmax EQL with C + 1 outputs and the head's frequencies (a class_freq on
    the loss as well is refused: 'declare them once')."""
    from mmengine.config import Config
    child = tmp_path / 'seql.py'
    leaf = osp.join(ROOT, 'configs', 'eql', 'mask-rcnn_r50_fpn_eql_random-ms-1x_lvis-v1.py')
    child.write_text(f"_base_ = '{leaf}'\nmodel = dict(roi_head=dict(bbox_head=dict(loss_cls=dict("
                     "_delete_=True, type='SoftmaxEQLLoss', num_classes=1203, lambda_=0.0011, "
                     'gamma=0.9))))\n')
    head = MODELS.build(Config.fromfile(str(child)).model.roi_head.bbox_head)
    assert type(head.loss_cls).__name__ == 'SoftmaxEQLLoss' and head.fc_cls.out_features == 1204
    assert head.loss_cls.class_freq.source == 'lvis_v1'
