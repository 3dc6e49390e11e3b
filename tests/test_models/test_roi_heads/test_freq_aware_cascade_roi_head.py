"""The cascade for every classifier contract of the project, on known logits.

Each stage's logits are set by hand (the stages' forward is replaced), and the test-time ensemble
and the refinement between stages are checked against values written from the definitions in
float64: the C-wide sigmoid (EQL, the federated loss) s_j = 1 / (1 + e^-z_j); the C + 1 objectness
(EQLv2, ECM) s_j = sigmoid(z_j) (1 - sigmoid(z_bg)); the Gumbel activation (GOL)
s_j = exp(-exp(-z_j)); the softmax over C + 1 (softmax EQL, mmdet's CE) s_j = e^z_j / sum_k e^z_k.
The ensemble is the mean of the stages' scores (Cascade R-CNN's definition); the class used to
refine a RoI between stages is the argmax of the C class scores.
"""
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import mmdet_eql  # noqa: F401  (registers the heads and losses)

C = 3
FREQ = [0.5, 0.01, 0.0001]
#: loss config, frequency-aware head or not, classifier width
CONTRACTS = {
    'c-wide-sigmoid': (dict(type='EQLLoss', num_classes=C, lambda_=1e-3), C),
    'objectness': (dict(type='EqualizationLossV2', num_classes=C), C + 1),
    'gumbel': (dict(type='GumbelOptimizedLoss', num_classes=C), C),
    'softmax': (dict(type='CrossEntropyLoss', use_sigmoid=False), C + 1),
}


def reference_scores(contract: str, z) -> list:
    """(N, C + 1) scores of (N, K) logits from the definitions, float64, plain Python."""
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    out = []
    for row in z:
        if contract == 'c-wide-sigmoid':
            out.append([sig(v) for v in row] + [0.0])
        elif contract == 'gumbel':
            out.append([math.exp(-math.exp(-v)) for v in row] + [0.0])
        elif contract == 'objectness':
            bg = sig(row[-1])
            out.append([sig(v) * (1 - bg) for v in row[:-1]] + [bg])
        else:
            total = sum(math.exp(v) for v in row)
            out.append([math.exp(v) / total for v in row])
    return out


def cascade_cfg(**kwargs) -> dict:
    """A three-stage cascade RoI head config on 4-channel features (stage fields in kwargs)."""
    return dict(
        type='FreqAwareCascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=2, sampling_ratio=0),
            out_channels=4,
            featmap_strides=[4]),
        **kwargs)


def cascade(contract: str, class_agnostic: bool = False):
    loss, _ = CONTRACTS[contract]
    stage = dict(
        type='FreqAwareShared2FCBBoxHead',
        in_channels=4,
        fc_out_channels=8,
        roi_feat_size=2,
        num_classes=C,
        class_freq=FREQ,
        reg_class_agnostic=class_agnostic,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[1.] * 4),
        loss_cls=loss)
    return MODELS.build(cascade_cfg(bbox_head=[dict(), dict(), dict()], stage_bbox_head=stage))


#: per stage: (N = 2 RoIs, K) logits; stage 0 makes class 1 the argmax for RoI 0 and class 2 for
#: RoI 1 under every activation, the later stages differ
def stage_logits(width: int):
    g = torch.Generator().manual_seed(0)
    out = []
    for s in range(3):
        z = torch.randn(2, width, generator=g, dtype=torch.float64) * 2
        if s == 0:
            z[0, :C] = torch.tensor([-1.0, 3.0, 0.5], dtype=torch.float64)
            z[1, :C] = torch.tensor([-2.0, -1.0, 2.5], dtype=torch.float64)
        out.append(z.float())
    return out


def install_logits(head, logits, deltas):
    """Replaces the stages' forward: stage s returns logits[s] and deltas[s] for its RoIs."""
    calls = []

    def fake(stage, x, rois, **kwargs):
        calls.append(rois.clone())
        return dict(cls_score=logits[stage], bbox_pred=deltas[stage], bbox_feats=None)

    head._bbox_forward = fake
    return calls


def class_deltas(n: int):
    """(n, 4 C) deltas: class j moves the box right by j + 1 (dx = (j + 1) / width)."""
    d = torch.zeros(n, 4 * C)
    for j in range(C):
        d[:, 4 * j] = (j + 1) / 20.0
    return d


META = dict(img_shape=(200, 200), scale_factor=(1.0, 1.0))
PROPOSALS = torch.tensor([[10., 10., 30., 30.], [100., 100., 120., 120.]])


@pytest.mark.parametrize('contract', sorted(CONTRACTS))
def test_test_time_ensemble_is_the_mean_of_the_stages_scores(contract):
    head = cascade(contract)
    _, width = CONTRACTS[contract]
    assert head.bbox_head[0].fc_cls.out_features == width
    logits = stage_logits(width)
    calls = install_logits(head, logits, [class_deltas(2)] * 3)
    rois = bbox2roi([PROPOSALS])
    _, mean_scores, _, _ = head._refine_roi_scores(None, rois, [META], (2, ))
    want = [[
        sum(reference_scores(contract, logits[s].double().tolist())[i][j] for s in range(3)) / 3
        for j in range(C + 1)
    ] for i in range(2)]
    flat_want = [v for row in want for v in row]
    assert mean_scores[0].double().flatten().tolist() == pytest.approx(
        flat_want, rel=1e-6, abs=1e-7)
    # mmdet 3.3's ensemble (the activation of the mean logits) is another number: the check
    # above tells the two apart
    mean_logits = (sum(lg.double() for lg in logits) / 3).tolist()
    of_mean = [v for row in reference_scores(contract, mean_logits) for v in row]
    assert of_mean != pytest.approx(flat_want, rel=1e-3, abs=1e-4)
    # the refinement between stages: class 1 (dx 2/20 of the width 20: 2 px) for RoI 0 and
    # class 2 (3 px) for RoI 1, by the argmax of the C class scores of stage 0
    assert calls[1][:, 1].tolist() == pytest.approx([10.0 + 2.0, 100.0 + 3.0], abs=1e-4)
    # predict_bbox: NMS over the mean scores (every score above 0 kept, no suppression across
    # the two far apart boxes)
    cfg = ConfigDict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.99), max_per_img=100)
    install_logits(head, logits, [class_deltas(2)] * 3)
    res = head.predict_bbox(None, [META], [InstanceData(bboxes=PROPOSALS)], cfg)[0]
    got = sorted(res.scores.tolist(), reverse=True)
    flat = sorted((v for row in want for v in row[:C] if v > 0), reverse=True)
    assert got == pytest.approx(flat, rel=1e-5)


@pytest.mark.parametrize('contract', sorted(CONTRACTS))
def test_training_refinement_picks_the_argmax_class_for_background_rois(contract):
    """mmdet's refine_bboxes (training) for a RoI labelled background regresses by the argmax of
    the C class scores under the loss's activation; a foreground RoI by its label."""
    head = cascade(contract)
    stage0 = head.bbox_head[0]
    _, width = CONTRACTS[contract]
    logits = stage_logits(width)[0]
    labels = torch.tensor([C, 0])  # RoI 0 background (argmax class 1), RoI 1 labelled 0
    rois = bbox2roi([PROPOSALS])
    sampling = [InstanceData(pos_is_gt=torch.zeros(0, dtype=torch.uint8))]
    out = stage0.refine_bboxes(
        sampling,
        dict(cls_score=logits, rois=rois, bbox_pred=class_deltas(2), bbox_targets=(labels, )),
        [META])
    assert out[0].bboxes[:, 0].tolist() == pytest.approx([10.0 + 2.0, 100.0 + 1.0], abs=1e-4)


def test_stage_bbox_head_sets_every_stage_and_keeps_their_coders():
    head = cascade('c-wide-sigmoid')
    for stage in head.bbox_head:
        assert type(stage).__name__ == 'FreqAwareShared2FCBBoxHead'
        assert stage.loss_cls.class_freq is not None and stage.fc_cls.out_features == C
    with pytest.raises(ValueError, match='stage_bbox_head is given but bbox_head'):
        MODELS.build(cascade_cfg(stage_bbox_head=dict(num_classes=C)))


def test_methods_page_cascade_child_changes_the_loss_of_every_stage(tmp_path):
    """docs/methods.md's "Another loss in a cascade" child, as written there, next to the EQL
    cascade leaf: all three stages get the federated loss with the head's frequencies, and
    keep their own box coders."""
    import os.path as osp
    import re

    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    page = open(osp.join(root, 'docs', 'methods.md')).read()
    section = page.split('### Another loss in a cascade', 1)[1]
    code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    leaf = osp.join(root, 'configs', 'eql', 'cascade-mask-rcnn_r50_fpn_eql_sample1e-3-ms-1x_lvis-'
                    'v1.py')
    assert osp.isfile(leaf)
    child = tmp_path / 'child.py'
    child.write_text(
        code.replace("'./cascade-mask-rcnn_r50_fpn_eql_sample1e-3-ms-1x_lvis-v1.py'", repr(leaf)))
    cfg = Config.fromfile(str(child))
    head = MODELS.build(cfg.model.roi_head)
    stds = []
    for stage in head.bbox_head:
        assert type(stage.loss_cls).__name__ == 'FederatedLoss'
        assert stage.loss_cls.class_freq.source == 'lvis_v1' and stage.prior_prob == 0.01
        stds.append(list(stage.bbox_coder.stds))
    assert stds == [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067]]
