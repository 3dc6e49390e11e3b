"""The real LVIS leaves, run as a researcher's first ``tools/train.py`` / ``tools/test.py``:
one leaf per config family (EQL v1, EQL v0.5, EQLv2, ATSS + EFL, mmdet's losses, federated,
softmax EQL, ECM, GOL: each folder of configs/, found by itself), its pipeline, sampler, weight
initialisation from the ImageNet file and evaluator, for 2 iterations (1 at LVIS scale) on a
tiny dataset in the exact LVIS format with the real category lists, then tested from the
checkpoint. Offline: the ImageNet file is a stand-in in torch's hub cache (lvis_fixture.py), and
no torchvision is installed, so a leaf that still says ``torchvision://`` fails here.

The EQL v1 leaf runs as a newcomer runs a leaf on own data (docs/train_test.md): as it is, at
LVIS's own scale, with ``--data-root`` and ``--max-iters 1``, tested from the checkpoint, and its
``--out`` pickle evaluated offline by eval_lvis.py. What a run changes in the other leaves
(``lvis_run_config`` of tools/speed/lvis_train.py, by key and transform type,
never by position): the data root, the image scale (short side 160), one epoch, no dataloader
workers, logging every iteration; these are evaluated by the validation after training (the leaf's
evaluator on the val file, as tools/test.py would; tools/test.py runs on a checkpoint for the EQL
family and for the AP-fixed runs).

For time, every two-stage run tests with 100 RPN proposals an image instead of 1000 (an untrained
1203-class head scores all 1000 x 1203 boxes above LVIS's threshold of 1e-4, and multi-class NMS
over them took about 10 s an image) and every run keeps 30 detections an image instead of 300 (the
mask head's 300 x 1203 masks took about 5 s an image); the families run by ``lvis_run_config``
train at short side 160 (320: 4.4 s an iteration, 160: 1.5 s). The AP-fixed leaves (one per v1
family, their settings checked in tests/test_configs) run end to end for ATSS; the two-stage
leaves share its evaluator path and differ in the test_cfg key (checked statically), and their
masks under the fixed protocol are tested in-process (tests/test_evaluation/
test_fast_lvis_metric.py). The families' runs and the cost script's go two at a time, one thread
each (``runs``): most of a run is single-threaded (imports, building the model, saving the
checkpoint), so the pair overlaps it.
"""
import json
import math
import os
import os.path as osp
import pickle
import sys

import pytest
import torch
from e2e_utils import ROOT, background_runs, run, stop_background_runs  # noqa: F401
from lvis_fixture import fake_imagenet_cache, make_lvis_fixture, stem_marker

from mmdet_eql.speed.lvis_train import lvis_run_config, train_log_rows

sys.path.insert(0, osp.join(ROOT, 'tests', 'test_configs'))
from test_recipes import RECIPES  # noqa: E402  (the recipe leaves and the authors' values)


def sibling_of_a_run(name: str) -> bool:
    """A leaf that is another run leaf with only lambda set to 0 (the sigmoid baselines) or with
    only the depth and its weight file changed (R-101): it is not run again. Both differences are
    checked on the resolved config, field by field (tests/test_configs/test_recipes.py: lambda,
    depth, weight file), and the leaf's model is built and initialised from the stand-in weight
    files (tests/test_configs/test_configs.py); a run would train the same code a second time (on
    this 2-core CPU, 20-30 s each, and the suite has a 10-minute budget)."""
    return '_sigmoid_' in name or '_r101' in name


#: the recipe leaves of configs/eql/ (tests/test_configs/test_recipes.py) but their sigmoid and
#: R-101 siblings, each trained two iterations through tools/train.py (the C4 and cascade ones
#: then tested: validated on the val file by their evaluator, the test path)
RECIPE_RUNS = ['recipe:' + name for name in sorted(RECIPES) if not sibling_of_a_run(name)]


def detector_leaves() -> list:
    """The leaves of other detectors than the families' Mask R-CNN FPN: every LVIS v1 cascade
    leaf of a loss and the Open Images EQL leaf (not the sigmoid sibling: :func:`sibling_of_a_run`;
    nor the cascade root, mmdet's softmax loss in the cascade every one of them inherits), each
    trained two iterations through tools/train.py and tested (validated by its evaluator after
    training) but TRAIN_ONLY."""
    import glob
    return sorted(
        osp.relpath(p, ROOT)
        for pattern in ('*/cascade-mask-rcnn_r50_fpn_*_lvis-v1.py', 'openimages/*.py')
        for p in glob.glob(osp.join(ROOT, 'configs', pattern))
        if not sibling_of_a_run(p) and not p.endswith('cascade-mask-rcnn_r50_fpn_sample1e-3-ms-'
                                                      '1x_lvis-v1.py'))


DETECTOR_RUNS = ['detector:' + leaf for leaf in detector_leaves()]
#: cascade leaves trained but not tested: their test path is another's under the same head
#: contract (the federated loss's is EQL's C-wide sigmoid, ECM's is EQLv2's C + 1 objectness;
#: both scored through the same mixin, tests/test_models/test_roi_heads), for the suite's time
TRAIN_ONLY = ('_fed_', '_ecm_')


def lvis_families() -> dict:
    """{family: (leaf, LVIS version, short side)}: one leaf for each LVIS version of each folder of
    configs/ that holds LVIS leaves (a new loss's folder is found, no list to edit); within a
    folder and version, an R50 leaf that is not AP-fixed: the one with an AP-fixed sibling (whose
    test runs too), else the repeat-factor one (sample1e-3, the LVIS standard), else the first by
    name. The family smoke-tested the way
    docs/train_test.md tells a newcomer (CLI_FAMILY) runs at LVIS's scale, the others at a short
    side of 160."""
    import glob
    import re
    out = {}
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*_r50_*_lvis-v*.py'))):
        name = osp.basename(path)
        if name.startswith('cascade-'):
            continue  # each cascade leaf runs on its own (DETECTOR_RUNS)
        version = re.search(r'_lvis-(v[0-9.]+?)(_ap-fixed)?\.py$', name).group(1)
        if name.endswith('_ap-fixed.py'):
            continue
        key = f'{osp.basename(osp.dirname(path))}-{version}'
        rel = osp.relpath(path, ROOT)

        def rank(leaf):  # the leaf with an AP-fixed sibling, then the sample1e-3 one, then first
            return (osp.isfile(osp.join(ROOT, leaf.replace('.py', '_ap-fixed.py'))), '_sample1e-3'
                    in leaf)

        if key not in out or rank(rel) > rank(out[key][0]):
            out[key] = (rel, version, None if key == CLI_FAMILY else 160)
    return out


#: the family run the way docs/train_test.md tells a newcomer to smoke-test a leaf on own data:
#: the leaf as it is, ``--data-root`` and ``--max-iters`` (no config written), and the
#: ``--out`` pickle evaluated offline with eval_lvis.py
CLI_FAMILY = 'eql-v1'
FAMILIES = lvis_families()


def make_lvis_data(base) -> dict:
    torch_home = str(base / 'torch_home')
    fake_imagenet_cache(torch_home)
    return dict(
        v1=make_lvis_fixture(str(base / 'lvis_v1'), 'v1'),
        **{'v0.5': make_lvis_fixture(str(base / 'lvis_v0.5'), 'v0.5')},
        openimages=make_openimages_fixture(str(base / 'openimages')),
        torch_home=torch_home)


def make_openimages_fixture(root: str) -> str:
    """The generated Open Images data and its class-frequency file where the leaves look for it
    (challenge2019/class_freq.json), as tools/analysis_tools/class_frequency.py writes it."""
    from mmdet_eql.analysis.class_frequency import frequency_file
    from mmdet_eql.datasets.synthetic_openimages import FILES, make_openimages_format
    from mmdet_eql.utils import write_json
    from mmdet_eql.utils.openimages import count_openimages
    root = make_openimages_format(root, num_train=4, num_val=2, num_classes=500)
    counts = count_openimages(*(osp.join(root, FILES[k])
                                for k in ('train', 'label_file', 'hierarchy_file')))
    write_json(
        frequency_file(counts, FILES['train'], 'image counts'),
        osp.join(root, 'challenge2019', 'class_freq.json'),
        what='class-frequency file')
    return root


#: the family whose AP-fixed leaf runs end to end through tools/test.py (the leaves' settings are
#: checked in tests/test_configs; the fixed protocol with masks, in-process, in
#: tests/test_evaluation/test_fast_lvis_metric.py)
AP_FIXED_RUN = ('efl-v1', )
#: RPN proposals an image at test (the leaves: 1000)
PROPOSALS = 100
#: detections an image at test (the leaves: 300; Mask R-CNN then predicts 300 x 1203 masks an
#: image, about 5 s on this CPU)
DETECTIONS = 30

#: RoIs an image in training for every run but the CLI family's (the leaves: 512; a C4 leaf's
#: go through res5 each, 83 s an iteration of 2 images on one thread here); the recipe, cascade
#: and Open Images runs at one image a batch and this short side
ROIS = 64
SMALL_SIDE = 128

#: runs at once: the runs are mostly single-threaded (imports, model building, checkpoints), so
#: two processes of one thread each on this 2-core CPU finish sooner than one after the other
PARALLEL_RUNS = 2


def job_env(lvis_data) -> dict:
    """A job's processes: the stand-in ImageNet files, no GPU, one thread."""
    return dict(
        os.environ,
        TORCH_HOME=lvis_data['torch_home'],
        CUDA_VISIBLE_DEVICES='',
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1')


def run_family(family, lvis_data, tmp):
    """Every process of one family's run (training, tools/test.py, eval_lvis.py); returns their
    outputs and paths for the test to check. One thread a process (PARALLEL_RUNS at once)."""
    leaf, version, short_side = FAMILIES[family]
    env = job_env(lvis_data)
    wd = str(tmp / 'work')
    r = dict(wd=wd)
    if family == CLI_FAMILY:
        r['cfg_path'], r['data_root'] = leaf, lvis_data[version]
        r['cli_options'] = {
            'model.test_cfg.rpn.max_per_img': PROPOSALS,
            'model.test_cfg.rcnn.max_per_img': DETECTIONS
        }
        cli = [
            '--data-root', lvis_data[version], '--cfg-options',
            *(f'{k}={v}' for k, v in r['cli_options'].items())
        ]
        # --max-iters validates after the last iteration; tools/test.py does the same work on
        # the checkpoint right after, so the test skips that validation (val_begin past the end);
        # one iteration: at LVIS scale it takes 13 s here
        r['train_log'] = run([
            'tools/train.py', leaf, '--work-dir', wd, '--max-iters', '1', *cli,
            'train_cfg.val_begin=2'
        ],
                             env=env)
        r['ckpt'] = osp.join(wd, 'iter_1.pth')
        from mmengine.config import Config
        r['cfg'] = Config.fromfile(osp.join(ROOT, leaf))
        r['out'] = str(tmp / 'preds.pkl')
        r['log'] = run(
            ['tools/test.py', leaf, r['ckpt'], '--work-dir', wd, '--out', r['out'], *cli], env=env)
        r['eval_out'] = run([
            'tools/analysis_tools/eval_lvis.py',
            osp.join(lvis_data[version], 'annotations', 'lvis_v1_val.json'), r['out'], '--iou-type',
            *metric_names(r['cfg']), '--out-dir',
            str(tmp / 'eval')
        ],
                            env=env)
    else:
        # trained, then validated on the val file with the leaf's evaluator (the test loop's
        # work on the same weights; tools/test.py on a checkpoint runs for the EQL family above
        # and for every AP-fixed run below)
        r['cfg_path'] = str(tmp / osp.basename(leaf))
        r['cfg'] = lvis_run_config(
            leaf,
            lvis_data[version],
            r['cfg_path'],
            short_side,
            proposals=PROPOSALS,
            detections=DETECTIONS,
            rois=ROIS)
        r['train_log'] = r['log'] = run([
            'tools/train.py', r['cfg_path'], '--work-dir', wd, '--cfg-options',
            'default_hooks.checkpoint.save_optimizer=False'
        ],
                                        env=env)
        r['ckpt'] = osp.join(wd, 'epoch_1.pth')
    fixed_leaf = leaf.replace('.py', '_ap-fixed.py')
    if osp.isfile(osp.join(ROOT, fixed_leaf)) and family in AP_FIXED_RUN:
        fixed_cfg = str(tmp / osp.basename(fixed_leaf))
        r['fixed'] = lvis_run_config(
            fixed_leaf, lvis_data[version], fixed_cfg, short_side or 160, proposals=PROPOSALS)
        cap = []
        if 'rcnn' in r['fixed'].model.test_cfg:
            cap = ['--cfg-options', 'model.test_cfg.rcnn.max_per_img=400']
        r['fixed_out'] = str(tmp / 'preds_fixed.pkl')
        r['fixed_log'] = run([
            'tools/test.py', fixed_cfg, r['ckpt'], '--work-dir', wd, '--out', r['fixed_out'], *cap
        ],
                             env=env)
    return r


def train_two_iterations(leaf, data_root, lvis_data, tmp, tested: bool) -> dict:
    """Two iterations of ``leaf`` through tools/train.py (``--max-iters 2``) on ``data_root``, one
    image a batch at a short side of SMALL_SIDE with ROIS RoIs, no optimizer state saved; then, if
    ``tested``, its evaluator on the val file (the test path)."""
    cfg_path = str(tmp / osp.basename(leaf))
    cfg = lvis_run_config(
        leaf,
        data_root,
        cfg_path,
        SMALL_SIDE,
        proposals=PROPOSALS,
        detections=DETECTIONS,
        batch_size=1,
        rois=ROIS)
    wd = str(tmp / 'work')
    options = ['default_hooks.checkpoint.save_optimizer=False']
    if not tested:
        options.append('train_cfg.val_begin=3')
    log = run([
        'tools/train.py', cfg_path, '--work-dir', wd, '--max-iters', '2', '--cfg-options', *options
    ],
              env=job_env(lvis_data))
    return dict(wd=wd, train_log=log, cfg=cfg, ckpt=osp.join(wd, 'iter_2.pth'), tested=tested)


def run_recipe(name, lvis_data, tmp):
    """A recipe leaf on the tiny LVIS v0.5 data (:func:`train_two_iterations`), tested for the C4
    and cascade leaves, not for the FPN ones (their test path runs in the families')."""
    leaf = osp.join('configs', 'eql', name.split(':', 1)[1])
    return train_two_iterations(leaf, lvis_data['v0.5'], lvis_data, tmp, '_c4_' in leaf
                                or 'cascade-' in leaf)


def run_detector(name, lvis_data, tmp):
    """A cascade or Open Images leaf on the generated data (:func:`train_two_iterations`), tested
    but for the leaves in TRAIN_ONLY."""
    leaf = name.split(':', 1)[1]
    data = lvis_data['openimages' if leaf.startswith(osp.join('configs', 'openimages')) else 'v1']
    return train_two_iterations(leaf, data, lvis_data, tmp, not any(t in leaf for t in TRAIN_ONLY))


def metric_names(cfg):
    return ['bbox'] + (['segm'] if 'mask' in cfg.model.type.lower() else [])


_STARTED = {}


def selected_runs(items) -> set:
    """The runs the session's tests of this module need (families by their parameter, and the
    cost script)."""
    out = set()
    for item in items:
        if getattr(item, 'module', None) is not sys.modules[__name__]:
            continue
        params = getattr(getattr(item, 'callspec', None), 'params', {})
        out.add(
            params.get('family') or params.get('recipe') or params.get('detector') or 'cost-script')
    return out


def start_background_runs(tmp_path_factory, alone: bool = True, items=None, **_) -> dict:
    """The runs of the selected families and of the cost script (all of them without ``items``),
    submitted to the session's pool of end-to-end runs (e2e_utils.background_runs; the longest
    first); each test waits for its own and re-raises its failure. tests/conftest.py calls this
    when the session starts, so that the runs go on while the rest of the suite runs, and moves
    this module's tests to the end of the session."""
    if not _STARTED:
        bg = background_runs(PARALLEL_RUNS, alone)
        data = make_lvis_data(tmp_path_factory.mktemp('lvis'))
        order = [CLI_FAMILY, 'cost-script'] + sorted(
            f for f in FAMILIES if f != CLI_FAMILY) + RECIPE_RUNS + DETECTOR_RUNS
        wanted = selected_runs(items) if items is not None else set(order)
        for name in (n for n in order if n in wanted):
            tmp = tmp_path_factory.mktemp(name.replace('/', '-'))
            job = (
                run_cost_script if name == 'cost-script' else run_recipe if name.startswith(
                    'recipe:') else run_detector if name.startswith('detector:') else run_family)
            bg.submit(name, job, name, data, tmp)
        _STARTED.update(bg.futures)
    return _STARTED


@pytest.fixture(scope='module')
def runs(tmp_path_factory, request):
    start_background_runs(tmp_path_factory, items=request.session.items)
    background_runs().open_all_slots()  # this module's tests come last: the others are done
    yield _STARTED


@pytest.mark.slow
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_lvis_leaf_trains_and_tests(family, runs):
    leaf, version, _ = FAMILIES[family]
    r = runs[family].result()
    wd, cfg, log, train_log = r['wd'], r['cfg'], r['log'], r['train_log']
    metrics = metric_names(cfg)
    assert 'load model from: https://download.pytorch.org/models/resnet50-0676ba61.pth' in train_log
    losses = train_log_rows(wd)
    # one iteration at LVIS scale for the CLI family (13 s on this CPU), two for the others
    assert [r['iter'] for r in losses] == ([1] if family == CLI_FAMILY else [1, 2]), losses
    for row in losses:
        for k, v in row.items():
            if k.startswith('loss'):
                assert math.isfinite(v), (k, v)
    ckpt = torch.load(r['ckpt'], map_location='cpu', weights_only=False)
    # the stem came from the ImageNet file (frozen, so still equal after training)
    assert torch.equal(ckpt['state_dict']['backbone.conv1.weight'], stem_marker())
    if family == CLI_FAMILY:
        # the dump holds the predictions only (views into the 1000 x 1203 score tensor would
        # make it about 37 MB an image)
        with open(r['out'], 'rb') as f:
            preds = pickle.load(f)
        assert len(preds) == 1 and all(len(p['pred_instances']['scores']) > 0 for p in preds)
        assert osp.getsize(r['out']) < 1_000_000, osp.getsize(r['out'])  # under 1 MB an image
        assert_offline_evaluation_equals_metric(r['eval_out'], log, metrics, osp.dirname(wd))
    for m in metrics:  # the metric of tools/test.py, or of the validation after training
        for key in ('AP', 'APr', 'APc', 'APf'):
            assert f'lvis/{m}_{key}:' in log, (m, key)
    fixed_leaf = leaf.replace('.py', '_ap-fixed.py')
    if 'fixed' in r:
        if 'rcnn' in r['fixed'].model.test_cfg:
            assert r['fixed'].model.test_cfg.rcnn.max_per_img == 1000
        for m in metrics:
            for key in ('AP', 'APr', 'APpool', 'APpool_r', 'APpool_f'):
                assert f'lvis/{m}_{key}:' in r['fixed_log'], (m, key)
        with open(r['fixed_out'], 'rb') as f:
            preds = pickle.load(f)
        # more than the standard protocol's 300 detections an image reach the metric
        assert max(len(p['pred_instances']['scores']) for p in preds) > 300
    elif version == 'v1' and not osp.isfile(osp.join(ROOT, fixed_leaf)):
        raise AssertionError(f'{family}: no AP-fixed leaf {fixed_leaf}')
    if family == 'efl-v1':
        stats = ckpt['state_dict']['bbox_head.loss_cls.grad_stats.num_updates']
        assert int(stats) == 2  # one update per iteration, not one per FPN level (5)
    if family == 'seql-v1':  # mmdet's softmax head, beta drawn per RoI with gamma 0.9
        assert 'SoftmaxEQLLoss: gamma=0.9, lambda=0.0011 protects 815 of 1203' in train_log
        assert ckpt['state_dict']['roi_head.bbox_head.fc_cls.weight'].shape[0] == 1204
    if family == 'ecm-v1':  # margins from the LVIS v1 image counts; C + 1 outputs
        assert 'EffectiveClassMarginLoss: margins and weights from the image counts of lvis_v1' \
            in train_log
        assert ckpt['state_dict']['roi_head.bbox_head.fc_cls.weight'].shape[0] == 1204
    if family == 'gol-v1':  # DropLoss on the v1 frequencies; C outputs
        assert 'GumbelOptimizedLoss with DropLoss: lambda=0.0011 protects 815 of 1203' in train_log
        assert ckpt['state_dict']['roi_head.bbox_head.fc_cls.weight'].shape[0] == 1203
    if family == 'federated-v1':  # a set of 50 classes a step, from the LVIS v1 image counts
        assert 'FederatedLoss: 50 classes a call (present ones first), the rest drawn by image ' \
            'counts ** 0.5 from lvis_v1' in train_log


#: one trained checkpoint of each head contract (how the loss's activation scores at test)
INFERENCE_RUNS = {
    'eql-v1': 'C-wide sigmoid (EQL)',
    'eqlv2-v1': 'C + 1 objectness (EQLv2)',
    'gol-v1': 'Gumbel (GOL)',
    'seql-v1': 'softmax (softmax EQL)'
}


@pytest.mark.slow
@pytest.mark.parametrize('family', sorted(INFERENCE_RUNS))
def test_inference_returns_the_test_paths_detections(family, runs):
    """mmdet's DetInferencer (the image demo's path) on a family's trained checkpoint and the val
    image returns the boxes, labels and scores of the test path on that image: for the EQL
    family, the predictions tools/test.py wrote with --out; for the others, the test loop's step
    (the dataset's test pipeline, then the model's test_step) run here on the same weights."""
    from mmdet.apis import DetInferencer
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mmdet_eql.utils.run_config import set_data_root
    r = runs[family].result()
    if family == CLI_FAMILY:  # the leaf as tools/test.py read it, and its --out pickle
        cfg = Config.fromfile(osp.join(ROOT, r['cfg_path']))
        set_data_root(cfg, r['data_root'])
        cfg.merge_from_dict(r['cli_options'])
        with open(r['out'], 'rb') as f:
            expected = pickle.load(f)[0]
        img_path, expected = expected['img_path'], expected['pred_instances']
    else:
        cfg = Config.fromfile(r['cfg_path'])
    inferencer = DetInferencer(model=cfg, weights=r['ckpt'], device='cpu', show_progress=False)
    if family != CLI_FAMILY:  # the test loop's step on the first val image
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        with torch.no_grad():
            sample = inferencer.model.test_step(pseudo_collate([dataset[0]]))[0]
        img_path, expected = sample.img_path, sample.pred_instances
    got = inferencer(img_path, return_datasamples=True)['predictions'][0].pred_instances
    assert len(got) > 0 and len(got) == len(expected['labels']), (len(got), family)
    assert torch.equal(got.labels, torch.as_tensor(expected['labels'])), family
    for key in ('scores', 'bboxes'):
        torch.testing.assert_close(got[key], torch.as_tensor(expected[key]), rtol=1e-5, atol=1e-4)
    assert inferencer.model.dataset_meta['classes'][0] == 'aerosol_can'  # the LVIS names


def assert_offline_evaluation_equals_metric(eval_out, test_log, metrics, tmp):
    """eval_lvis.py on the pickle of ``tools/test.py --out`` printed the numbers the test's
    metric logged (README: test, then evaluate offline)."""
    import re
    for m in metrics:
        logged = float(re.search(rf'lvis/{m}_AP: ([0-9.]+)', test_log).group(1))
        row = next(line for line in eval_out.splitlines() if line.startswith(f'{m} '))
        assert float(row.split()[1]) == pytest.approx(100 * logged, abs=0.051), (m, row, logged)
        assert osp.isfile(osp.join(tmp, 'eval', f'per_category_ap_{m}.json'))


def run_cost_script(_, lvis_data, tmp):
    env = job_env(lvis_data)
    return run([
        'tools/speed/lvis_train.py', '--iters', '1', '--batch', '1', '--val-images', '1',
        '--objects', '3', '--short-side', '128', '--eval-images', '30', '--test-proposals', '100',
        '--test-detections', '30', '--work-dir',
        str(tmp)
    ],
               env=env), tmp


@pytest.mark.slow
def test_cost_script_runs_at_tiny_scale(runs):
    """tools/speed/lvis_train.py end to end on the CPU at a tiny scale (its
    numbers are for a GPU; here it must run and print its table)."""
    out, tmp_path = runs['cost-script'].result()
    rows = [line for line in out.splitlines() if line.startswith('| mask-rcnn_r50')]
    assert len(rows) == 2, out[-2000:]
    assert rows[0].split('|')[4].strip() == '1.000x'
    cost = json.load(open(tmp_path / 'cost.json'))
    assert [r['iters_logged'] for r in cost['leaves']] == [1, 1]
    assert all(r['s_per_iter'] > 0 and r['test_s_per_img'] > 0 for r in cost['leaves'])
    assert cost['evaluator']['detections'] == 30 * 300
    assert '100 proposals an image at test; 30 detections an image at test' in out
    with open(tmp_path / 'mask-rcnn_r50_fpn_random-ms-1x_lvis-v1' /
              'mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py') as f:
        written = f.read()
    assert 'max_per_img=100' in written and 'max_per_img=30' in written


@pytest.mark.slow
@pytest.mark.parametrize('recipe', RECIPE_RUNS)
def test_recipe_leaf_trains_two_iterations(recipe, runs):
    """Each recipe leaf (the authors' released recipe, the paper's Table 1 setting) trains through
    tools/train.py: two iterations with finite losses, its backbone loaded from the file it names
    (the stand-in's stem, frozen, is still in the checkpoint)."""
    r = runs[recipe].result()
    url = RECIPES[recipe.split(':', 1)[1]]['backbone'][2]
    assert f'load model from: {url}' in r['train_log']
    losses = train_log_rows(r['wd'])
    assert [row['iter'] for row in losses] == [1, 2], losses
    for row in losses:
        for k, v in row.items():
            if k.startswith('loss'):
                assert math.isfinite(v), (recipe, k, v)
    ckpt = torch.load(r['ckpt'], map_location='cpu', weights_only=False)
    assert torch.equal(ckpt['state_dict']['backbone.conv1.weight'], stem_marker())
    if r['tested']:  # C4 and cascade: the test path after training, LVIS's metric
        for key in ('AP', 'APr', 'APc', 'APf'):
            assert f'lvis/bbox_{key}:' in r['train_log'] and f'lvis/segm_{key}:' in r['train_log']


#: what each cascade leaf's log says of its loss (the same loss in each of the three stages)
CASCADE_LOSS_LINES = {
    'eql': 'EQLLoss: lambda=0.0011 protects 815 of 1203',
    'eqlv2': None,
    'fed': 'FederatedLoss: 50 classes a call',
    'ecm': 'EffectiveClassMarginLoss: margins and weights from the image counts of lvis_v1',
    'gol': 'GumbelOptimizedLoss with DropLoss: lambda=0.0011 protects 815 of 1203',
}


@pytest.mark.slow
@pytest.mark.parametrize('detector', DETECTOR_RUNS)
def test_detector_leaf_trains_and_tests(detector, runs):
    """Each cascade leaf (every loss of the project in the three stages) and each Open Images leaf
    trains two iterations through tools/train.py with finite losses of every stage, starts from
    the ImageNet file, and is tested by its evaluator (LVIS's AP by group; Open Images' AP and the
    paper's AP1..AP5)."""
    r = runs[detector].result()
    leaf = detector.split(':', 1)[1]
    log = r['train_log']
    assert 'load model from: https://download.pytorch.org/models/resnet50-0676ba61.pth' in log
    rows = train_log_rows(r['wd'])
    assert [row['iter'] for row in rows] == [1, 2], rows
    for row in rows:
        for k, v in row.items():
            if 'loss' in k:
                assert math.isfinite(v), (leaf, k, v)
    ckpt = torch.load(r['ckpt'], map_location='cpu', weights_only=False)
    assert torch.equal(ckpt['state_dict']['backbone.conv1.weight'], stem_marker())
    if 'openimages' in leaf:  # mmdet's Open Images AP and the paper's five groups
        for key in ('AP50', 'mAP', 'AP1', 'AP2', 'AP3', 'AP4', 'AP5'):
            assert f'openimages/{key}:' in log, key
        assert 'Open Images AP by training frequency (5 groups, classes sorted by f' in log
        assert ckpt['state_dict']['roi_head.bbox_head.fc_cls.weight'].shape[0] == 500
        lam = '0.0003' if '_eql_' in leaf else '0'
        assert f'EQLLoss: lambda={lam} protects' in log
        return
    # a cascade: the three stages' losses, the loss in each stage, the LVIS metric
    for stage in range(3):
        assert f's{stage}.loss_cls' in rows[0], rows[0]
    method = leaf.split('_fpn_')[1].split('_')[0]  # the root: 'sample1e-3-ms-1x' (softmax)
    heads = [k for k in ckpt['state_dict'] if k.endswith('fc_cls.weight')]
    assert len(heads) == 3, heads
    width = 1203 if method in ('eql', 'fed', 'gol') else 1204
    assert [ckpt['state_dict'][k].shape[0] for k in heads] == [width] * 3, method
    if CASCADE_LOSS_LINES.get(method):
        assert CASCADE_LOSS_LINES[method] in log
    if not r['tested']:
        return
    for m in ('bbox', 'segm'):
        for key in ('AP', 'APr', 'APc', 'APf'):
            assert f'lvis/{m}_{key}:' in log, (m, key)
