"""Records, per class, the accumulated positive and negative gradients of the RoI classifier
(two-stage detectors) or of a one-stage head's classifier over its anchors.

Shapes: N = RoIs (or anchors), C = foreground classes, W = classifier width (C, or C + 1 with a
background or objectness column, which is left out). Label C is background in both: a background
RoI, or an anchor assigned to no object.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmdet_eql.models.losses.grad_stats import RATIO_EPS, split_by_label
from mmdet_eql.utils.class_frequency import (GROUP_NAMES, ClassFrequency, class_freq_from_records,
                                             count_categories, resolve_class_freq)


class GradientAccumulator:
    """Sums |dL/dz_ij| per class j over positive (label j) and negative RoIs, the negatives split
    by source: background RoIs (label C) and foreground RoIs of other classes. The negative total
    is the sum of the two parts.

    ``attach(loss_module)`` registers a forward hook on a classification loss: each training call
    ``loss(cls_score, labels, ...)`` puts a tensor hook on ``cls_score`` that, during backward,
    adds the true gradient of the whole training loss with respect to the logits, whatever the loss
    (softmax, sigmoid, EQL, EQLv2, ...). Totals are per process; :meth:`totals` sums them across
    processes when distributed.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.pos = torch.zeros(num_classes, dtype=torch.float64)
        self.neg_bg = torch.zeros(num_classes, dtype=torch.float64)
        self.neg_fg = torch.zeros(num_classes, dtype=torch.float64)
        self.steps = 0
        self._handles = []

    def add(self, grad: torch.Tensor, labels: torch.Tensor) -> None:
        """Adds one loss call's (N, W) gradient for (N,) labels in [0, C] (C: background). A
        one-stage head calls its loss once per FPN level: each call adds its level's anchors,
        and ``steps`` counts the calls."""
        g = grad.detach()[:, :self.num_classes].abs()
        labels = labels.detach().long().to(g.device)
        bg = labels >= self.num_classes
        # foreground RoIs: positives, and the negatives they give the other classes
        pos, neg_fg = split_by_label(g[~bg], labels[~bg])
        neg_bg = g[bg].to(torch.float64).sum(0)  # background RoIs: a negative for every class
        self.pos = self.pos.to(g.device) + pos
        self.neg_fg = self.neg_fg.to(g.device) + neg_fg
        self.neg_bg = self.neg_bg.to(g.device) + neg_bg
        self.steps += 1

    def _forward_hook(self, module, args, kwargs, output):
        cls_score = args[0] if args else kwargs.get('cls_score')
        labels = args[1] if len(args) > 1 else kwargs.get('label', kwargs.get('labels'))
        if cls_score is None or labels is None or not module.training:
            return
        if torch.is_grad_enabled() and cls_score.requires_grad:
            cls_score.register_hook(lambda grad: self.add(grad, labels))

    def attach(self, loss_module: torch.nn.Module) -> None:
        self._handles.append(
            loss_module.register_forward_hook(self._forward_hook, with_kwargs=True))

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def totals(self):
        """(C,) positive, negative, and the negative from background RoIs, as numpy, summed
        over processes when distributed (the negative total is the sum of its parts after the
        sum over processes, so it stays exactly their sum)."""
        parts = torch.stack([self.pos, self.neg_bg, self.neg_fg])
        all_reduce(parts, op='sum')  # mmengine's: a no-op for one process, moves to the backend
        pos, neg_bg, neg_fg = parts.cpu().numpy()
        return pos, neg_bg + neg_fg, neg_bg


def ratio_report(pos: np.ndarray,
                 neg: np.ndarray,
                 cf: Optional[ClassFrequency],
                 neg_bg: Optional[np.ndarray] = None) -> Dict:
    """Per-class records and the mean ratio per frequency group; with ``neg_bg`` (the negative
    gradient from background RoIs), each class's negative split by source and each group's mean
    share from background RoIs."""
    ratio = pos / (neg + RATIO_EPS)
    bg_share = None if neg_bg is None else np.where(neg > 0, neg_bg /
                                                    np.maximum(neg, 1e-300), np.nan)
    records = []
    for j in range(len(pos)):
        rec = dict(index=j, pos_grad=float(pos[j]), neg_grad=float(neg[j]), ratio=float(ratio[j]))
        if neg_bg is not None:
            rec.update(
                neg_grad_background=float(neg_bg[j]),
                neg_grad_other_classes=float(neg[j] - neg_bg[j]),
                background_share=None if np.isnan(bg_share[j]) else float(bg_share[j]))
        if cf is not None:
            for key, values in (('id', cf.ids), ('name', cf.names),
                                ('image_count', cf.image_counts), ('frequency', cf.groups)):
                if values is not None:
                    rec[key] = values[j]
            rec['freq'] = float(cf.freq[j])  # f_j, what EQL's lambda is compared with
        records.append(rec)
    groups, shares = {}, {}
    if cf is not None and cf.groups is not None:
        for g in 'rcf':
            idx = [j for j, x in enumerate(cf.groups) if x == g]
            if idx:
                groups[g] = float(np.mean(ratio[idx]))
                if bg_share is not None and not np.isnan(bg_share[idx]).all():
                    shares[g] = float(np.nanmean(bg_share[idx]))
    out = dict(categories=records, mean_ratio_by_group=groups, mean_ratio=float(ratio.mean()))
    if bg_share is not None:
        out['mean_background_share_by_group'] = shares
    return out


@HOOKS.register_module()
class GradientRatioMonitorHook(Hook):
    """Monitors the positive/negative gradient ratio of each class of the RoI classifier (or of a
    one-stage head's classifier, over its anchors).

    For any classification loss of the RoI head (softmax cross-entropy, sigmoid, EQL, EQLv2, ...),
    accumulates per class j, over training, P_j = sum of |dL/dz_ij| over RoIs labelled j and
    N_j = the same over all other RoIs (background included), split into the part from background
    RoIs and the part from other classes' foreground RoIs; for a one-stage head (ATSS, RetinaNet,
    ... with focal loss, EFL, ...) the same over anchors, every FPN level's loss call included,
    background anchors against other classes' foreground anchors. The analysis behind the EQL
    papers: rare classes get ratios far below 1 because their negative gradients dominate. Every
    ``interval`` iterations it logs the mean ratio per frequency group (also as scalars
    ``train/grad_ratio_{r,c,f}``); at the end of training (and at ``after_train`` only, on rank 0)
    it writes ``{out_prefix}.json`` (per class P, N, ratio, image count, group) and
    ``{out_prefix}.png`` (ratio against training image count) into the run's log directory.

    Args:
        interval (int): logging interval in iterations.
        class_freq (str | Sequence[float] | None): where the frequency groups come from: a preset
            or class-frequency JSON; by default the bbox head's ``class_freq`` when it has one,
            else counted from the training set's annotation file.
        stage (int | None): for a cascade, the stage to monitor (default: every stage, reported
            separately as stage0, stage1, ...).
        out_prefix (str): file name prefix of the JSON and PNG.
    """
    priority = 'LOW'

    def __init__(self,
                 interval: int = 50,
                 class_freq: Optional[Union[str, Sequence[float]]] = None,
                 stage: Optional[int] = None,
                 out_prefix: str = 'grad_ratio') -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        self.interval = interval
        self.class_freq_src = class_freq
        self.stage = stage
        self.out_prefix = out_prefix
        self.accumulators: Dict[str, GradientAccumulator] = {}
        self.class_freq: Optional[ClassFrequency] = None

    @staticmethod
    def _bbox_heads(model) -> List[torch.nn.Module]:
        """The RoI head's bbox head(s) of a two-stage detector (one a stage for a cascade), or a
        one-stage detector's bbox_head (its classifier over anchors; background: anchors assigned
        to no object)."""
        model = model.module if is_model_wrapper(model) else model
        roi_head = getattr(model, 'roi_head', None)
        if roi_head is not None:
            head = getattr(roi_head, 'bbox_head', None)
        else:
            head = getattr(model, 'bbox_head', None)
        if head is None or not (isinstance(head, torch.nn.ModuleList) or hasattr(head, 'loss_cls')):
            raise RuntimeError('GradientRatioMonitorHook needs a model with roi_head.bbox_head '
                               '(a two-stage detector) or a bbox_head with loss_cls (a one-stage '
                               f'detector); {type(model).__name__} has neither')
        return list(head) if isinstance(head, torch.nn.ModuleList) else [head]

    def _resolve_class_freq(self, runner, heads) -> Optional[ClassFrequency]:
        if self.class_freq_src is not None:
            return resolve_class_freq(self.class_freq_src)
        for head in heads:
            if getattr(head, 'class_freq', None) is not None:
                return head.class_freq
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        ann_file = getattr(dataset, 'ann_file', None)
        if ann_file and osp.isfile(ann_file):
            with open(ann_file) as f:
                stats = count_categories(json.load(f))
            return class_freq_from_records(stats['categories'], None, source=ann_file)
        print_log(
            'GradientRatioMonitorHook: no class frequencies found; ratios are reported '
            'per class only',
            logger='current')
        return None

    def before_train(self, runner) -> None:
        heads = self._bbox_heads(runner.model)
        if self.stage is not None:
            if not 0 <= self.stage < len(heads):
                raise ValueError(f'GradientRatioMonitorHook: stage={self.stage} but the model has '
                                 f'{len(heads)} bbox head(s)')
            heads = {f'stage{self.stage}': heads[self.stage]}
        else:
            heads = {f'stage{i}' if len(heads) > 1 else 'bbox_head': h for i, h in enumerate(heads)}
        self.class_freq = self._resolve_class_freq(runner, list(heads.values()))
        for name, head in heads.items():
            if self.class_freq is not None and len(self.class_freq) != head.num_classes:
                raise ValueError(f'GradientRatioMonitorHook: class frequencies from '
                                 f'{self.class_freq.source} have {len(self.class_freq)} entries '
                                 f'but {name} has num_classes={head.num_classes}')
            acc = GradientAccumulator(head.num_classes)
            acc.attach(head.loss_cls)
            self.accumulators[name] = acc

    def reports(self) -> Dict[str, Dict]:
        """The current report of every monitored head (collective when distributed)."""
        out = {}
        for name, acc in self.accumulators.items():
            pos, neg, neg_bg = acc.totals()
            out[name] = ratio_report(pos, neg, self.class_freq, neg_bg)
        return out

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        for name, rep in self.reports().items():
            groups = rep['mean_ratio_by_group']
            for g, v in groups.items():
                key = 'train/grad_ratio_' + g + ('' if len(self.accumulators) == 1 else '_' + name)
                runner.message_hub.update_scalar(key, v)
            text = ', '.join(f'{GROUP_NAMES[g]} {v:.4g}' for g, v in groups.items()) or \
                f'all {rep["mean_ratio"]:.4g}'
            shares = rep.get('mean_background_share_by_group', {})
            if shares:
                text += '; share of the negative gradient from background RoIs: ' + ', '.join(
                    f'{GROUP_NAMES[g]} {v:.3f}' for g, v in shares.items())
            print_log(
                f'GradientRatioMonitorHook ({name}): mean positive/negative gradient ratio: '
                f'{text}',
                logger='current')

    def after_train(self, runner) -> None:
        reports = self.reports()
        for acc in self.accumulators.values():
            acc.detach()
        if not is_main_process():
            return
        from mmdet_eql.visualization.plots import plot_grad_ratio
        for name, rep in reports.items():
            suffix = '' if len(reports) == 1 else '_' + name
            base = osp.join(runner.log_dir, self.out_prefix + suffix)
            rep['steps'] = self.accumulators[name].steps
            with open(base + '.json', 'w') as f:
                json.dump(rep, f, indent=1)
            if rep['categories'] and 'image_count' in rep['categories'][0]:
                plot_grad_ratio(rep, base + '.png', title=f'{runner.experiment_name} ({name})')
            print_log(f'GradientRatioMonitorHook: wrote {base}.json', logger='current')
