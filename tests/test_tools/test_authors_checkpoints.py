"""tools/model_converters/authors_to_mmdet.py: the authors' released models in the leaves.

The source state dicts are built here from the authors' key names and shapes, as their code
defines them (facts read from tztztztztz/eql.detectron2, Detectron2 v0.1.1 + projects/EQL, and
from tztztztztz/eqlv2, mmdet 2.3): not from this project's models, so a wrong rule fails. Every key
must map and none be left over; then the converted checkpoint runs the leaf's test path
(DetInferencer on an image) with a classifier whose known biases say which class must come out,
with which score, under the leaf's activation.
"""
import math
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmdet_eql.apis import convert as conv
from mmdet_eql.utils.io import ToolError
from mmdet_eql.utils.paths import repo_path

#: ResNet-50: (stage, blocks, bottleneck width, output channels)
R50 = [(2, 3, 64, 256), (3, 4, 128, 512), (4, 6, 256, 1024), (5, 3, 512, 2048)]
#: the class whose bias is raised, and the biases (its own, the other classes', background's)
K, HIGH, LOW, BG = 7, 4.0, -12.0, -4.0


def _bn(prefix, ch, out, counter=False):
    for p in ('weight', 'bias', 'running_mean', 'running_var'):
        out[f'{prefix}.{p}'] = (1.0 + 0.01 * torch.randn(ch)) if p in ('weight', 'running_var') \
            else 0.01 * torch.randn(ch)
    if counter:
        out[f'{prefix}.num_batches_tracked'] = torch.tensor(1000)


def _w(*shape):
    return 0.01 * torch.randn(*shape)


def _classifier(rows: int, num_classes: int, background_last: bool) -> dict:
    """fc weights 0 and biases: class K high, other classes low, background (if a row) BG."""
    b = torch.full((rows, ), LOW)
    b[K] = HIGH
    if background_last:
        b[num_classes] = BG
    return dict(weight=torch.zeros(rows, 1024), bias=b)


def detectron2_mask_rcnn(num_classes=1230, cls_rows=1230, ratios=(0.5, 1.0, 2.0)) -> dict:
    """A GeneralizedRCNN R50-FPN Mask R-CNN state dict as Detectron2 v0.1 names it (FrozenBN
    buffers without a counter; the anchor generator's cell anchors as buffers)."""
    s, in_ch = {}, 64
    s['backbone.bottom_up.stem.conv1.weight'] = _w(64, 3, 7, 7)
    _bn('backbone.bottom_up.stem.conv1.norm', 64, s)
    for stage, blocks, width, out_ch in R50:
        for j in range(blocks):
            p = f'backbone.bottom_up.res{stage}.{j}'
            c_in = in_ch if j == 0 else out_ch
            for k, shape in ((1, (width, c_in, 1, 1)), (2, (width, width, 3, 3)),
                             (3, (out_ch, width, 1, 1))):
                s[f'{p}.conv{k}.weight'] = _w(*shape)
                _bn(f'{p}.conv{k}.norm', shape[0], s)
            if j == 0:
                s[f'{p}.shortcut.weight'] = _w(out_ch, c_in, 1, 1)
                _bn(f'{p}.shortcut.norm', out_ch, s)
        in_ch = out_ch
        s[f'backbone.fpn_lateral{stage}.weight'] = _w(256, out_ch, 1, 1)
        s[f'backbone.fpn_lateral{stage}.bias'] = _w(256)
        s[f'backbone.fpn_output{stage}.weight'] = _w(256, 256, 3, 3)
        s[f'backbone.fpn_output{stage}.bias'] = _w(256)
    for name, out in (('conv', 256), ('objectness_logits', 3), ('anchor_deltas', 12)):
        k = 3 if name == 'conv' else 1
        s[f'proposal_generator.rpn_head.{name}.weight'] = _w(out, 256, k, k)
        s[f'proposal_generator.rpn_head.{name}.bias'] = _w(out)
    for level in range(5):  # sizes 32..512, w = s / sqrt(a), h = s sqrt(a), centred at 0
        size = 32 * 2**level
        half = [(size / math.sqrt(a) / 2, size * math.sqrt(a) / 2) for a in ratios]
        s[f'proposal_generator.anchor_generator.cell_anchors.{level}'] = torch.tensor(
            [[-w, -h, w, h] for w, h in half])
    s['roi_heads.box_head.fc1.weight'], s['roi_heads.box_head.fc1.bias'] = _w(1024, 12544), _w(1024)
    s['roi_heads.box_head.fc2.weight'], s['roi_heads.box_head.fc2.bias'] = _w(1024, 1024), _w(1024)
    for k, v in _classifier(cls_rows, num_classes, cls_rows > num_classes).items():
        s[f'roi_heads.box_predictor.cls_score.{k}'] = v
    s['roi_heads.box_predictor.bbox_pred.weight'] = _w(4 * num_classes, 1024)
    s['roi_heads.box_predictor.bbox_pred.bias'] = torch.zeros(4 * num_classes)
    for k in range(1, 5):
        s[f'roi_heads.mask_head.mask_fcn{k}.weight'] = _w(256, 256, 3, 3)
        s[f'roi_heads.mask_head.mask_fcn{k}.bias'] = _w(256)
    s['roi_heads.mask_head.deconv.weight'] = _w(256, 256, 2, 2)  # ConvTranspose2d: (in, out, ..)
    s['roi_heads.mask_head.deconv.bias'] = _w(256)
    s['roi_heads.mask_head.predictor.weight'] = _w(num_classes, 256, 1, 1)
    s['roi_heads.mask_head.predictor.bias'] = _w(num_classes)
    return s


def mmdet2_mask_rcnn(num_classes=1203, cls_rows=1204, loss_state=True) -> dict:
    """An mmdet 2.3 Mask R-CNN R50-FPN state dict as the eqlv2 fork names it (BatchNorm with its
    counter; EQLv2's later gradient buffers under loss_cls)."""
    s, in_ch = {}, 64
    s['backbone.conv1.weight'] = _w(64, 3, 7, 7)
    _bn('backbone.bn1', 64, s, counter=True)
    for stage, blocks, width, out_ch in R50:
        for j in range(blocks):
            p = f'backbone.layer{stage - 1}.{j}'
            c_in = in_ch if j == 0 else out_ch
            for k, shape in ((1, (width, c_in, 1, 1)), (2, (width, width, 3, 3)),
                             (3, (out_ch, width, 1, 1))):
                s[f'{p}.conv{k}.weight'] = _w(*shape)
                _bn(f'{p}.bn{k}', shape[0], s, counter=True)
            if j == 0:
                s[f'{p}.downsample.0.weight'] = _w(out_ch, c_in, 1, 1)
                _bn(f'{p}.downsample.1', out_ch, s, counter=True)
        in_ch = out_ch
        i = stage - 2
        s[f'neck.lateral_convs.{i}.conv.weight'] = _w(256, out_ch, 1, 1)
        s[f'neck.lateral_convs.{i}.conv.bias'] = _w(256)
        s[f'neck.fpn_convs.{i}.conv.weight'] = _w(256, 256, 3, 3)
        s[f'neck.fpn_convs.{i}.conv.bias'] = _w(256)
    for name, out in (('rpn_conv', 256), ('rpn_cls', 3), ('rpn_reg', 12)):
        k = 3 if name == 'rpn_conv' else 1
        s[f'rpn_head.{name}.weight'] = _w(out, 256, k, k)
        s[f'rpn_head.{name}.bias'] = _w(out)
    h = 'roi_head.bbox_head'
    s[f'{h}.shared_fcs.0.weight'], s[f'{h}.shared_fcs.0.bias'] = _w(1024, 12544), _w(1024)
    s[f'{h}.shared_fcs.1.weight'], s[f'{h}.shared_fcs.1.bias'] = _w(1024, 1024), _w(1024)
    for k, v in _classifier(cls_rows, num_classes, cls_rows > num_classes).items():
        s[f'{h}.fc_cls.{k}'] = v
    s[f'{h}.fc_reg.weight'] = _w(4 * num_classes, 1024)
    s[f'{h}.fc_reg.bias'] = torch.zeros(4 * num_classes)
    if loss_state:
        for name in ('pos_grad', 'neg_grad', 'pos_neg'):
            s[f'{h}.loss_cls.{name}'] = torch.rand(num_classes)
    for k in range(4):
        s[f'roi_head.mask_head.convs.{k}.conv.weight'] = _w(256, 256, 3, 3)
        s[f'roi_head.mask_head.convs.{k}.conv.bias'] = _w(256)
    s['roi_head.mask_head.upsample.weight'] = _w(256, 256, 2, 2)
    s['roi_head.mask_head.upsample.bias'] = _w(256)
    s['roi_head.mask_head.conv_logits.weight'] = _w(num_classes, 256, 1, 1)
    s['roi_head.mask_head.conv_logits.bias'] = _w(num_classes)
    return s


def _lvis_classes(version):
    from mmdet.datasets import LVISV1Dataset, LVISV05Dataset
    return list((LVISV05Dataset if version == 'v0.5' else LVISV1Dataset).METAINFO['classes'])


def _infer(leaf, ckpt, image):
    """DetInferencer, the image demo's path, on the leaf and the converted checkpoint (a small
    test scale and few proposals: the scores under test do not depend on them)."""
    from mmdet.apis import DetInferencer
    from mmengine.config import Config
    cfg = Config.fromfile(repo_path(leaf))
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (320, 200)
    cfg.model.test_cfg.rpn.max_per_img = 50
    cfg.model.test_cfg.rcnn.max_per_img = 20
    inferencer = DetInferencer(model=cfg, weights=ckpt, device='cpu', show_progress=False)
    return inferencer, inferencer(image, return_datasamples=True)['predictions'][0]


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    import cv2
    path = str(tmp_path_factory.mktemp('img') / 'img.jpg')
    rng = np.random.default_rng(0)
    cv2.imwrite(path, rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    return path


@pytest.mark.parametrize('model,fmt', [('eql.detectron2:eql-r50', '.pth'),
                                       ('eqlv2:eqlv2-r50', '.pth')])
def test_released_model_converts_and_runs_the_test_path(model, fmt, tmp_path, image):
    torch.manual_seed(0)
    released = conv.RELEASED[model]
    if released.source == 'detectron2':
        src_state = detectron2_mask_rcnn()
        src = dict(model=src_state, iteration=89999)
        version = 'v0.5'
    else:
        src_state = mmdet2_mask_rcnn()
        version = 'v1'
        src = dict(state_dict=src_state, meta=dict(CLASSES=tuple(_lvis_classes(version))))
    path = str(tmp_path / f'model_final{fmt}')
    torch.save(src, path)
    dst = str(tmp_path / 'converted.pth')
    assert conv.main([model, path, dst]) == 0
    ckpt = torch.load(dst, map_location='cpu', weights_only=False)
    state, info = ckpt['state_dict'], ckpt['meta']['converted_from']
    # every source tensor is in the result (renamed), nothing else but the filled counters
    values = {k: v for k, v in src_state.items() if k not in info['dropped']}
    assert len(state) == len(values) + len(info['filled'])
    if released.source == 'detectron2':
        assert len(info['dropped']) == 5  # the cell anchors, checked against the leaf's
        assert not [k for k in info['filled'] if not k.endswith('num_batches_tracked')]
        pairs = [('backbone.bottom_up.res2.0.shortcut.weight',
                  'backbone.layer1.0.downsample.0.weight'),
                 ('backbone.bottom_up.res5.2.conv3.norm.running_var',
                  'backbone.layer4.2.bn3.running_var'),
                 ('backbone.fpn_lateral3.weight', 'neck.lateral_convs.1.conv.weight'),
                 ('proposal_generator.rpn_head.anchor_deltas.weight', 'rpn_head.rpn_reg.weight'),
                 ('roi_heads.box_head.fc2.weight', 'roi_head.bbox_head.shared_fcs.1.weight'),
                 ('roi_heads.mask_head.mask_fcn4.bias', 'roi_head.mask_head.convs.3.conv.bias'),
                 ('roi_heads.mask_head.predictor.weight', 'roi_head.mask_head.conv_logits.weight')]
        for a, b in pairs:
            assert torch.equal(src_state[a], state[b]), (a, b)
        # the class K row is row K: sigmoid over C, no background row
        assert state['roi_head.bbox_head.fc_cls.bias'].argmax() == K
        expected = 1 / (1 + math.exp(-HIGH))
    else:
        assert sorted(info['dropped']) == [
            f'roi_head.bbox_head.loss_cls.{n}' for n in ('neg_grad', 'pos_grad', 'pos_neg')
        ]
        # EQLv2's statistics restart at zero
        assert info['filled'] and all('.grad_stats.' in k for k in info['filled'])
        expected = 1 / (1 + math.exp(-HIGH)) * (1 - 1 / (1 + math.exp(-BG)))
    assert list(ckpt['meta']['dataset_meta']['classes']) == _lvis_classes(version)
    # the test path: every detection is class K with the score the authors' activation gives
    _, pred = _infer(released.leaf, dst, image)
    labels, scores = pred.pred_instances.labels, pred.pred_instances.scores
    assert len(labels) > 0 and (labels == K).all(), labels
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5)
    assert len(pred.pred_instances.masks) == len(labels)


def test_detectron2_pickle_of_numpy_arrays_reads_as_the_pth(tmp_path):
    """The model zoo's .pkl form: numpy arrays under 'model' (and Detectron2's extra fields)."""
    state = {'a.weight': torch.randn(3, 2), 'b.bias': torch.randn(4)}
    path = str(tmp_path / 'model.pkl')
    with open(path, 'wb') as f:
        pickle.dump(dict(model={k: v.numpy() for k, v in state.items()}, __author__='x'), f)
    loaded, _ = conv.load_source(path, 'detectron2')
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def _src(tmp_path, state, key='model', **extra):
    path = str(tmp_path / 'src.pth')
    torch.save({key: state, **extra}, path)
    return path


@pytest.mark.parametrize(
    'case,message',
    [('softmax-rows', 'roi_head.bbox_head.fc_cls.weight: the checkpoint has shape (1231, 1024)'),
     ('pytorch-leaf', 'model.data_preprocessor.mean is'),
     ('softmax-leaf', "loss_cls is 'CrossEntropyLoss'; the model was trained with EQLLoss"),
     ('unmapped', 'roi_heads.keypoint_head.w'), ('anchors', 'level 0'),
     ('mmdet-file', "expected a detectron2 checkpoint, a dict with a 'model' dict of weights (it "
      "has 'state_dict'")])
def test_a_wrong_model_or_leaf_is_refused_naming_what(case, message, tmp_path):
    """A softmax model's C + 1 rows in the EQL leaf, Detectron2's caffe-style weights in a
    torchvision-style leaf, an EQL model in a softmax leaf, a key no rule maps, other anchors, an
    mmdet file given as Detectron2's: each refused, the field named."""
    model, config = 'eql.detectron2:eql-r50', None
    if case == 'unmapped':  # refused before the model is built: two keys are enough
        path = _src(tmp_path, {
            'roi_heads.keypoint_head.w': torch.zeros(1),
            'backbone.fpn_lateral2.bias': torch.zeros(256)
        })
    elif case in ('softmax-rows', 'anchors'):
        state = detectron2_mask_rcnn(
            cls_rows=1231 if case == 'softmax-rows' else 1230,
            ratios=(1.0, 0.5, 2.0) if case == 'anchors' else (0.5, 1.0, 2.0))
        path = _src(tmp_path, state)
    else:
        path = _src(
            tmp_path, {'x': torch.zeros(1)}, key='state_dict' if case == 'mmdet-file' else 'model')
        config = {
            'pytorch-leaf': 'configs/eql/mask-rcnn_r50_fpn_eql_random-ms-2x_lvis-v0.5.py',
            'softmax-leaf': 'configs/eql/mask-rcnn_r50-caffe_fpn_random-ms-90k_lvis-v0.5.py',
        }.get(case)
    with pytest.raises(ToolError, match=None) as e:
        conv.convert(model, path, repo_path(config) if config else None)
    assert message in str(e.value), str(e.value)


def test_eqlv2_file_with_other_classes_is_refused(tmp_path):
    classes = _lvis_classes('v1')
    classes[5], classes[6] = classes[6], classes[5]
    path = _src(tmp_path, {}, key='state_dict', meta=dict(CLASSES=tuple(classes)))
    # the classes are compared before the keys: a full state dict is not needed to reach them
    with pytest.raises(ToolError, match="differ from the leaf dataset's at index 5"):
        conv.convert('eqlv2:eqlv2-r50', path)


def test_every_released_model_names_a_leaf_with_a_quoted_result(capsys):
    assert conv.main(['--list']) == 0
    out = capsys.readouterr().out
    for name, r in conv.RELEASED.items():
        assert osp.isfile(repo_path(r.leaf)), r.leaf
        assert name in out and r.leaf in out
    assert 'mask AP 24.0' in out and 'mask AP 23.7' in out and 'mask AP 26.1' in out
