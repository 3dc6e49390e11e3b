"""The authors' released models in this project's leaves: a checkpoint of eql.detectron2
(Detectron2, LVIS v0.5) or of eqlv2 (mmdet 2.3, LVIS v1) converted to the state dict of the leaf
whose test path should reproduce the authors' quoted number, checked key by key against that
leaf's model.

    python tools/model_converters/authors_to_mmdet.py MODEL SRC DST [--config LEAF]

``MODEL`` is one of :data:`RELEASED` (``--list`` prints them with their leaves and quoted results);
``SRC`` the file the authors link (Detectron2's ``model_final.pth`` / ``.pkl``, or mmdet 2.x's
``.pth``); ``DST`` the mmdet 3.x checkpoint, which ``tools/test.py LEAF DST`` evaluates and
``DetInferencer(LEAF, DST)`` runs.

What the conversion does (facts read from the authors' code: docs/references.md, "The authors'
released models"):

* Detectron2 -> mmdet, by rule (:data:`D2_RULES`): the ResNet stem and stages (``res2..res5`` ->
  ``layer1..layer4``, ``conv{k}.norm`` -> ``bn{k}``, ``shortcut`` -> ``downsample``), the FPN's
  lateral and output convs, the RPN (``objectness_logits`` / ``anchor_deltas`` -> ``rpn_cls`` /
  ``rpn_reg``: both frameworks order the anchors the same way), the box head's two FCs and
  predictor, the mask head. The anchor generator's ``cell_anchors`` buffers are not weights: they
  are compared with the leaf's anchors and refused when they differ. FrozenBN has no
  ``num_batches_tracked``; it is set to 0 (BatchNorm is frozen in the leaf, unused).
* mmdet 2.x -> 3.x: the module names of Mask R-CNN did not change; the loss's training state of
  eqlv2's later code (``loss_cls.pos_grad`` / ``neg_grad`` / ``pos_neg``, if present) is dropped,
  since it is not this project's ``grad_stats`` (which restarts at zero: inference does not use
  it).
* The classifier: its rows must be what the leaf's loss asks for (``get_cls_channels``): EQL's C
  rows with no background (eql.detectron2's ``EQLFastRCNNOutputLayers`` and eqlv2's sigmoid EQL
  score with a sigmoid over C logits), EQLv2's C + 1 with the objectness logit last, softmax's
  C + 1 with the background last (both frameworks put it last). Category order: both sort LVIS's
  category ids (Detectron2: contiguous id = id - 1), as mmdet's LVIS datasets do, so rows are not
  permuted; the converted checkpoint carries the leaf dataset's class names.
* The leaf must take the input as the model was trained: Detectron2's models are caffe-style
  (BGR, mean [103.53, 116.28, 123.675], std 1, stride in the first 1x1 conv: ``style='caffe'``),
  eqlv2's torchvision-style (RGB, ImageNet mean and std, ``style='pytorch'``); a leaf that differs
  is refused with the field named.
"""
import argparse
import os.path as osp
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from mmdet_eql.utils.io import ToolError, tool_main
from mmdet_eql.utils.paths import repo_path


@dataclass(frozen=True)
class Released:
    """A model the authors released: its repository, source format, the loss its classifier was
    trained with (the mmdet loss type of the leaf) and the leaf that reproduces it."""
    repo: str
    source: str  # 'detectron2' or 'mmdet2'
    loss: str
    leaf: str


#: the released models (their READMEs' tables; the quoted numbers are the leaves' in their
#: folder's metafile.yml, printed by ``--list``). eql.detectron2's R-101 rows have no model file.
RELEASED: Dict[str, Released] = {
    'eql.detectron2:mask-rcnn-r50':
    Released('tztztztztz/eql.detectron2', 'detectron2', 'CrossEntropyLoss',
             'configs/eql/mask-rcnn_r50-caffe_fpn_random-ms-90k_lvis-v0.5.py'),
    'eql.detectron2:eql-r50':
    Released('tztztztztz/eql.detectron2', 'detectron2', 'EQLLoss',
             'configs/eql/mask-rcnn_r50-caffe_fpn_eql_random-ms-90k_lvis-v0.5.py'),
    'eql.detectron2:eql-resampling-r50':
    Released('tztztztztz/eql.detectron2', 'detectron2', 'EQLLoss',
             'configs/eql/mask-rcnn_r50-caffe_fpn_eql_sample5e-4-ms-90k_lvis-v0.5.py'),
    'eqlv2:baseline-r50':
    Released('tztztztztz/eqlv2', 'mmdet2', 'CrossEntropyLoss',
             'configs/eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py'),
    'eqlv2:eql-r50':
    Released('tztztztztz/eqlv2', 'mmdet2', 'EQLLoss',
             'configs/eql/mask-rcnn_r50_fpn_eql_random-ms-1x_lvis-v1.py'),
    'eqlv2:eqlv2-r50':
    Released('tztztztztz/eqlv2', 'mmdet2', 'EqualizationLossV2',
             'configs/eqlv2/mask-rcnn_r50_fpn_eqlv2_random-ms-1x_lvis-v1.py'),
}

#: how each source format feeds the network: (data_preprocessor fields, backbone style)
INPUT_CONVENTION = {
    'detectron2': (dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0],
                        bgr_to_rgb=False), 'caffe'),
    'mmdet2': (dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                    bgr_to_rgb=True), 'pytorch'),
}

#: Detectron2 key -> mmdet key: (pattern, the mmdet key of the match); stage and layer numbers
#: shift (``res2`` -> ``layer1``, ``fpn_lateral2`` -> ``lateral_convs.0``, ``fc1`` ->
#: ``shared_fcs.0``, ``mask_fcn1`` -> ``convs.0``). The first matching rule applies.
D2_RULES: List[Tuple[str, Callable[[re.Match], str]]] = [
    (r'backbone\.bottom_up\.stem\.conv1\.weight', lambda m: 'backbone.conv1.weight'),
    (r'backbone\.bottom_up\.stem\.conv1\.norm\.(\w+)', lambda m: f'backbone.bn1.{m[1]}'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.weight',
     lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.conv{m[3]}.weight'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.norm\.(\w+)',
     lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.bn{m[3]}.{m[4]}'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.weight',
     lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.downsample.0.weight'),
    (r'backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.norm\.(\w+)',
     lambda m: f'backbone.layer{int(m[1]) - 1}.{m[2]}.downsample.1.{m[3]}'),
    (r'backbone\.fpn_lateral(\d)\.(\w+)',
     lambda m: f'neck.lateral_convs.{int(m[1]) - 2}.conv.{m[2]}'),
    (r'backbone\.fpn_output(\d)\.(\w+)', lambda m: f'neck.fpn_convs.{int(m[1]) - 2}.conv.{m[2]}'),
    (r'proposal_generator\.rpn_head\.conv\.(\w+)', lambda m: f'rpn_head.rpn_conv.{m[1]}'),
    (r'proposal_generator\.rpn_head\.objectness_logits\.(\w+)',
     lambda m: f'rpn_head.rpn_cls.{m[1]}'),
    (r'proposal_generator\.rpn_head\.anchor_deltas\.(\w+)', lambda m: f'rpn_head.rpn_reg.{m[1]}'),
    (r'roi_heads\.box_head\.fc(\d)\.(\w+)',
     lambda m: f'roi_head.bbox_head.shared_fcs.{int(m[1]) - 1}.{m[2]}'),
    (r'roi_heads\.box_predictor\.cls_score\.(\w+)', lambda m: f'roi_head.bbox_head.fc_cls.{m[1]}'),
    (r'roi_heads\.box_predictor\.bbox_pred\.(\w+)', lambda m: f'roi_head.bbox_head.fc_reg.{m[1]}'),
    (r'roi_heads\.mask_head\.mask_fcn(\d)\.(\w+)',
     lambda m: f'roi_head.mask_head.convs.{int(m[1]) - 1}.conv.{m[2]}'),
    (r'roi_heads\.mask_head\.deconv\.(\w+)', lambda m: f'roi_head.mask_head.upsample.{m[1]}'),
    (r'roi_heads\.mask_head\.predictor\.(\w+)', lambda m: f'roi_head.mask_head.conv_logits.{m[1]}'),
]
#: Detectron2 buffers that are not weights: the RPN's anchors, checked against the leaf's
D2_ANCHORS = re.compile(r'proposal_generator\.anchor_generator\.cell_anchors\.(\d+)')
#: eqlv2's later EQLv2 loss keeps its gradient sums as buffers (training state, not weights)
MMDET2_TRAINING_STATE = re.compile(r'roi_head\.bbox_head\.loss_cls\.(pos_grad|neg_grad|pos_neg)')


def load_source(path: str, source: str) -> Tuple[Dict[str, 'object'], dict]:
    """(state dict of tensors, meta) of an authors' file: Detectron2's ``{'model': ...}`` (a
    ``.pth`` of tensors or a ``.pkl`` of numpy arrays), or mmdet 2.x's ``{'state_dict', 'meta'}``.
    """
    import numpy as np
    import torch
    if not osp.isfile(path):
        raise ToolError(f'{path}: no such file')
    try:
        if path.endswith('.pkl'):
            with open(path, 'rb') as f:
                ckpt = pickle.load(f, encoding='latin1')
        else:
            ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # a file that is not a checkpoint: say which
        raise ToolError(f'{path}: not a readable checkpoint ({type(e).__name__}: {e})') from None
    key = 'model' if source == 'detectron2' else 'state_dict'
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get(key), dict):
        other = 'state_dict' if key == 'model' else 'model'
        hint = (f' (it has {other!r}: is it a '
                f'{"mmdet" if other == "state_dict" else "Detectron2"} file?)'
                if isinstance(ckpt, dict) and other in ckpt else '')
        raise ToolError(f'{path}: expected a {source} checkpoint, a dict with a {key!r} dict of '
                        f'weights{hint}')
    state = OrderedDict()
    for k, v in ckpt[key].items():
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        if not isinstance(v, torch.Tensor):
            raise ToolError(f'{path}: {key}[{k!r}] is a {type(v).__name__}, not an array')
        state[k[len('module.'):] if k.startswith('module.') else k] = v
    return state, ckpt.get('meta') or {}


def rename_detectron2(state: dict) -> Tuple[Dict[str, 'object'], Dict[str, 'object']]:
    """(mmdet state dict, anchors {level: cell anchors}); raises naming every key no rule maps."""
    out, anchors, unmapped = OrderedDict(), {}, []
    for k, v in state.items():
        m = D2_ANCHORS.fullmatch(k)
        if m:
            anchors[int(m[1])] = v
            continue
        for pattern, target in D2_RULES:
            m = re.fullmatch(pattern, k)
            if m:
                out[target(m)] = v
                break
        else:
            unmapped.append(k)
    if unmapped:
        raise ToolError(f'{len(unmapped)} Detectron2 keys map to no mmdet key (not a Mask R-CNN '
                        f'R-FPN model?): {", ".join(unmapped[:8])}')
    return out, anchors


def rename_mmdet2(state: dict) -> Tuple[Dict[str, 'object'], List[str]]:
    """(mmdet 3.x state dict, dropped training-state keys)."""
    out, dropped = OrderedDict(), []
    for k, v in state.items():
        if MMDET2_TRAINING_STATE.fullmatch(k):
            dropped.append(k)
        else:
            out[k] = v
    return out, dropped


def leaf_config(config: str):
    """The leaf's config as tools/test.py reads it (the plugin imported)."""
    from mmengine.config import Config
    if not osp.isfile(config):
        raise ToolError(f'{config}: no such config')
    return Config.fromfile(config)


def build_model(cfg):
    """The leaf's model, built as tools/test.py builds it, with no weight file read (the converted
    weights replace the ImageNet initialisation)."""
    import copy

    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import init_default_scope
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('init_cfg', None)
    if 'backbone' in model_cfg:
        model_cfg.backbone.init_cfg = None
    return MODELS.build(model_cfg)


def _same(got, want) -> bool:
    if isinstance(want, bool):
        return got == want
    return got is not None and len(got) == len(want) and all(
        abs(a - b) < 1e-3 for a, b in zip(got, want))


def check_leaf(cfg, released: Released, config: str) -> None:
    """The leaf's loss and input convention are the model's; refuses naming the field."""
    expected_pre, expected_style = INPUT_CONVENTION[released.source]
    pre = cfg.model.get('data_preprocessor', {})
    for field, want in expected_pre.items():
        got = pre.get(field)
        if not _same(got, want):
            raise ToolError(f'{config}: model.data_preprocessor.{field} is {got!r}; the '
                            f'{released.source} model was trained with {want!r} (use '
                            f'{released.leaf})')
    style = cfg.model.get('backbone', {}).get('style', 'pytorch')
    if style != expected_style:
        raise ToolError(f'{config}: model.backbone.style is {style!r}; the {released.source} '
                        f"model's ResNet is {expected_style!r}-style (use {released.leaf})")
    bbox_head = cfg.model.get('roi_head', {}).get('bbox_head', {})
    loss = str(bbox_head.get('loss_cls', {}).get('type', '')).split('.')[-1]
    if loss != released.loss:
        raise ToolError(f'{config}: model.roi_head.bbox_head.loss_cls is {loss!r}; the model was '
                        f'trained with {released.loss} (use {released.leaf})')


def check_anchors(anchors: dict, model) -> None:
    """Detectron2's cell anchors, level by level, are the leaf's base anchors (so the RPN's
    channels mean the same anchors)."""
    import torch
    base = model.rpn_head.prior_generator.base_anchors
    if sorted(anchors) != list(range(len(base))):
        raise ToolError(f'the checkpoint has anchors for levels {sorted(anchors)}; the leaf has '
                        f'{len(base)} levels')
    for level, a in anchors.items():
        ours = base[level].to(a.dtype)
        if a.shape != ours.shape or not torch.allclose(a, ours, atol=1e-3):
            raise ToolError(f'level {level}: the checkpoint\'s anchors {a.tolist()} are not the '
                            f"leaf's {ours.tolist()} (anchor sizes, ratios or order differ)")


def match_model(state: dict, model) -> Tuple[Dict[str, 'object'], List[str]]:
    """The converted state dict in the model's key order with shapes checked; FrozenBN's missing
    ``num_batches_tracked`` filled with 0. Raises naming keys left over, missing or misshapen."""
    import torch
    target = model.state_dict()
    filled = []
    extra = [k for k in state if k not in target]
    missing = [
        k for k in target
        if k not in state and not k.endswith('num_batches_tracked') and '.loss_cls.' not in k
    ]
    if extra or missing:
        said = [f'{len(extra)} not in the leaf ({", ".join(extra[:6])})'] if extra else []
        said += [f'{len(missing)} missing ({", ".join(missing[:6])})'] if missing else []
        raise ToolError(f"the converted keys are not the leaf model's: {'; '.join(said)}")
    out = OrderedDict()
    for k, v in target.items():
        if k in state:
            w = state[k]
            if tuple(w.shape) != tuple(v.shape):
                hint = ''
                if k.endswith('fc_cls.weight') or k.endswith('fc_cls.bias'):
                    hint = (' (classifier rows: C = foreground classes; EQL has C, EQLv2 and '
                            'softmax C + 1: is the model the one the leaf trains?)')
                raise ToolError(f'{k}: the checkpoint has shape {tuple(w.shape)}, the leaf '
                                f'{tuple(v.shape)}{hint}')
            out[k] = w.to(v.dtype).contiguous()
        else:  # num_batches_tracked of frozen BN, or the loss's own state (zeros)
            out[k] = torch.zeros_like(v)
            filled.append(k)
    return out, filled


def convert(model_name: str, src: str, config: Optional[str] = None) -> dict:
    """The mmdet 3.x checkpoint of ``model_name``'s file ``src`` for ``config`` (default: the
    model's leaf): ``{'state_dict', 'meta'}`` with the dataset's classes and what was done."""
    if model_name not in RELEASED:
        raise ToolError(f'unknown model {model_name!r}; one of: {", ".join(RELEASED)}')
    released = RELEASED[model_name]
    config = config or repo_path(released.leaf)
    cfg = leaf_config(config)
    check_leaf(cfg, released, config)
    state, meta = load_source(src, released.source)
    classes = _dataset_classes(cfg)
    check_classes(src, meta.get('CLASSES') or meta.get('classes'), classes)
    if released.source == 'detectron2':
        renamed, anchors = rename_detectron2(state)
        dropped = [f'proposal_generator.anchor_generator.cell_anchors.{i}' for i in anchors]
    else:
        renamed, dropped = rename_mmdet2(state)
    model = build_model(cfg)
    if released.source == 'detectron2':
        check_anchors(anchors, model)
    converted, filled = match_model(renamed, model)
    return dict(
        state_dict=converted,
        meta=dict(
            dataset_meta=dict(classes=tuple(classes)) if classes else {},
            converted_from=dict(
                model=model_name,
                repo=released.repo,
                file=osp.basename(src),
                dropped=dropped,
                filled=filled)))


def check_classes(src: str, src_classes, classes) -> None:
    """An mmdet 2.x file's ``meta.CLASSES`` (when it has them) are the leaf dataset's, in order."""
    if src_classes is None or classes is None or list(src_classes) == list(classes):
        return
    src_classes, classes = list(src_classes), list(classes)
    i = next((i for i, (a, b) in enumerate(zip(src_classes, classes)) if a != b),
             min(len(src_classes), len(classes)))
    got = src_classes[i] if i < len(src_classes) else None
    want = classes[i] if i < len(classes) else None
    raise ToolError(f"{src}: its meta.CLASSES differ from the leaf dataset's at index {i} "
                    f'({got!r} against {want!r}; {len(src_classes)} against {len(classes)} '
                    'classes)')


def _dataset_classes(cfg) -> Optional[list]:
    """The class names of the leaf's test dataset (its registered type's METAINFO)."""
    from mmdet.registry import DATASETS
    ds = cfg.test_dataloader.dataset
    while 'dataset' in ds:
        ds = ds.dataset
    cls = DATASETS.get(ds.type)
    meta = ds.get('metainfo') or getattr(cls, 'METAINFO', {})
    return list(meta.get('classes', ())) or None


def quoted_result(leaf: str) -> str:
    """The leaf's quoted result from its folder's metafile.yml (one place for the numbers)."""
    import yaml
    path = osp.join(osp.dirname(repo_path(leaf)), 'metafile.yml')
    for entry in yaml.safe_load(open(path))['Models']:
        if entry['Config'] == leaf:
            metrics = [f'{k} {v}' for r in entry['Results'] for k, v in r['Metrics'].items()]
            return f'{", ".join(metrics)} on {entry["Results"][0]["Dataset"]} val (quoted: ' \
                f'{entry["Metadata"]["Quoted From"]})'
    raise ToolError(f'{leaf} is not in {path}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert an EQL authors' released model (eql.detectron2, eqlv2) to the mmdet "
        '3.x checkpoint of the leaf that reproduces it.')
    parser.add_argument('model', nargs='?', help=f'one of: {", ".join(RELEASED)}')
    parser.add_argument('src', nargs='?', help="the authors' file (.pth or .pkl)")
    parser.add_argument('dst', nargs='?', help='the mmdet 3.x checkpoint to write (.pth)')
    parser.add_argument(
        '--config', help="another leaf to convert for (default: the model's own leaf)")
    parser.add_argument(
        '--list', action='store_true', help='print the models, their leaves and quoted results')
    args = parser.parse_args(argv)
    if not args.list and not (args.model and args.src and args.dst):
        parser.error('MODEL SRC DST are required (or --list)')
    return args


@tool_main
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, r in RELEASED.items():
            print(f'{name}\n  leaf: {r.leaf}\n  {quoted_result(r.leaf)}')
        return 0
    import torch
    ckpt = convert(args.model, args.src, args.config)
    info = ckpt['meta']['converted_from']
    torch.save(ckpt, args.dst)
    released = RELEASED[args.model]
    print(f'{args.src} -> {args.dst}: {len(ckpt["state_dict"])} tensors '
          f'({len(info["dropped"])} source buffers dropped, {len(info["filled"])} filled: '
          'BatchNorm counters and training state)')
    print(f'test it: python tools/test.py {args.config or released.leaf} {args.dst}\n'
          f'expected: {quoted_result(released.leaf)}')
    return 0
