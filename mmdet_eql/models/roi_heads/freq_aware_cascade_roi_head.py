"""mmdet's Cascade RoI head for every classifier contract of the project, changed in one place.

Shapes: N = RoIs of an image, C = foreground classes; scores are (N, C + 1), the last column the
background's (mmdet's bbox head drops it before NMS).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.models.utils import empty_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor


def stage_scores(bbox_head, cls_score: Tensor) -> Tensor:
    """(N, K) logits of one stage -> its (N, C + 1) scores under the stage's activation: the
    loss's own (``get_activation``: the C-wide sigmoid or Gumbel with a zero background column,
    the C + 1 objectness s(z_j) (1 - s(z_bg)), Seesaw's) where the loss declares one, else the
    softmax over C + 1 logits, as mmdet's bbox head scores them at test time."""
    if bbox_head.custom_cls_channels:
        return bbox_head.loss_cls.get_activation(cls_score)
    return F.softmax(cls_score, dim=-1)


@MODELS.register_module()
class FreqAwareCascadeRoIHead(CascadeRoIHead):
    """mmdet's ``CascadeRoIHead`` with two changes, for every loss of the project.

    1. ``stage_bbox_head``: fields written into every stage's ``bbox_head`` config (over the
       stage's own), so that a config states the loss, the frequency source and the head type
       once for all stages, and a child changes the loss of the three stages in one short dict
       (``stage_bbox_head=dict(loss_cls=dict(_delete_=True, type=..., ...))``). mmdet's
       cascade configs list the three stages, and a child cannot merge into a list.
    2. The test-time ensemble of the stages is the mean of their *scores*, each stage's logits
       under its own loss's activation (:func:`stage_scores`), as the Cascade R-CNN authors
       define it (Cai and Vasconcelos, TPAMI 2019, Sec. 5.3: the classifier outputs of the
       stages averaged) and detectron2's and CenterNet2's cascades compute it. mmdet 3.3
       averages the stages' raw logits and applies the last stage's activation to the mean,
       which for a sigmoid or objectness loss is not the mean of the scores. Box refinement
       between stages is mmdet's: the argmax over the C class scores under the same activation
       (tests/test_models/test_roi_heads/test_freq_aware_cascade_roi_head.py checks both for the
       C-wide sigmoid, C + 1 objectness, Gumbel and softmax contracts against values written
       from the definitions).

    Args:
        stage_bbox_head (dict, optional): fields for every stage's bbox head.
        **kwargs: the arguments of ``CascadeRoIHead``.
    """

    def __init__(self, *args, stage_bbox_head: Optional[dict] = None, **kwargs) -> None:
        if stage_bbox_head:
            heads = kwargs.get('bbox_head')
            if heads is None:
                raise ValueError('FreqAwareCascadeRoIHead: stage_bbox_head is given but '
                                 'bbox_head (the stages) is not')
            num_stages = kwargs.get('num_stages', args[0] if args else None)
            if not isinstance(heads, (list, tuple)):
                heads = [heads] * num_stages
            kwargs['bbox_head'] = [dict(h, **stage_bbox_head) for h in heads]
        super().__init__(*args, **kwargs)

    def _refine_roi_scores(self, x: Tuple[Tensor], rois: Tensor, batch_img_metas: List[dict],
                           num_proposals_per_img) -> tuple:
        """The stages at test time: (rois of the last stage, per image; the mean of the stages'
        scores, per image; the last stage's logits and box deltas, per image)."""
        sum_scores = None
        for stage in range(self.num_stages):
            bbox_head = self.bbox_head[stage]
            out = self._bbox_forward(stage=stage, x=x, rois=rois)
            logits = out['cls_score'].split(num_proposals_per_img, 0)
            bbox_preds = out['bbox_pred']
            bbox_preds = (
                bbox_preds.split(num_proposals_per_img, 0) if bbox_preds is not None else
                (None, ) * len(batch_img_metas))
            rois = rois.split(num_proposals_per_img, 0)
            scores = [stage_scores(bbox_head, s) for s in logits]
            sum_scores = scores if sum_scores is None else [
                a + b for a, b in zip(sum_scores, scores)
            ]
            if stage < self.num_stages - 1:
                refined = []
                for i, meta in enumerate(batch_img_metas):
                    if rois[i].shape[0] == 0:
                        continue
                    label = scores[i][:, :-1].argmax(dim=1)  # the C classes
                    boxes = bbox_head.regress_by_class(rois[i][:, 1:], label, bbox_preds[i], meta)
                    refined.append(torch.cat([rois[i][:, [0]], get_box_tensor(boxes)], dim=1))
                rois = torch.cat(refined)
        mean_scores = [s / self.num_stages for s in sum_scores]
        return rois, mean_scores, logits, bbox_preds

    def predict_bbox(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     rpn_results_list,
                     rcnn_test_cfg,
                     rescale: bool = False,
                     **kwargs):
        """The last stage's boxes scored by the mean of the stages' scores, then mmdet's
        multi-class NMS (the last, background, column dropped)."""
        proposals = [res.bboxes for res in rpn_results_list]
        num_proposals_per_img = tuple(len(p) for p in proposals)
        rois = bbox2roi(proposals)
        last = self.bbox_head[-1]
        if rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas,
                rois.device,
                task_type='bbox',
                box_type=last.predict_box_type,
                num_classes=last.num_classes,
                score_per_cls=rcnn_test_cfg is None)
        rois, mean_scores, logits, bbox_preds = self._refine_roi_scores(
            x, rois, batch_img_metas, num_proposals_per_img)
        results = []
        for i, meta in enumerate(batch_img_metas):
            if rois[i].shape[0] == 0:
                results.append(
                    last._predict_by_feat_single(rois[i], logits[i], bbox_preds[i], meta, rescale,
                                                 rcnn_test_cfg))
                continue
            # mmdet's decoding and rescaling of the last stage's boxes (its path without NMS),
            # then NMS over the mean scores
            raw = last._predict_by_feat_single(
                rois[i], logits[i], bbox_preds[i], meta, rescale, rcnn_test_cfg=None)
            if rcnn_test_cfg is None:
                raw.scores = mean_scores[i]
                results.append(raw)
                continue
            box_dim = raw.bboxes.size(-1) // (1 if last.reg_class_agnostic else last.num_classes)
            det_bboxes, det_labels = multiclass_nms(
                raw.bboxes,
                mean_scores[i],
                rcnn_test_cfg.score_thr,
                rcnn_test_cfg.nms,
                rcnn_test_cfg.max_per_img,
                box_dim=box_dim)
            results.append(
                InstanceData(
                    bboxes=det_bboxes[:, :-1], scores=det_bboxes[:, -1], labels=det_labels))
        return results
