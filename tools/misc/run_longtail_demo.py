"""The main job: the embedded long-tailed benchmark, end to end.

    python tools/misc/run_longtail_demo.py [--preset small] [--seeds 0 1 2]
                                           [--methods softmax sigmoid eql eql-rare eqlv2
                                            seesaw eqlv2-mmdet focal efl] [--jobs N]

1. generates the dataset (data/longtail_{preset}/, skipped when it holds that preset and seed);
2. trains each method's config (configs/longtail-demo/; each states its method and label) with
   tools/train.py, same seed and schedule (``--jobs N``: N at a time, e.g. on a GPU
   machine). The preset reaches the configs through the
   environment variables their base reads (LONGTAIL_DATA_ROOT, LONGTAIL_NUM_CLASSES,
   LONGTAIL_IMAGE_SIZE, LONGTAIL_MAX_ITERS); each run's resolved config is written to its work
   dir (run_config.py) with a record of its definition (run.json: config, data, preset, seeds,
   overrides). A finished run is reused only when its definition is the same; a work dir that
   holds a run of another definition is refused (or trained again with --retrain);
3. tests each with tools/test.py, then evaluates its detections on both val files: the LVIS-like
   one (federated negatives) and the strict one (every absent class is a negative); the
   evaluation is kept in the run's eval.json, and a run whose detections are gone is reported
   from it (docs/runs/README.md);
4. prints a comparison table (bbox and segm, boxes only for the one-stage focal and efl: AP, APr,
   APc, APf; mean and spread over seeds), a table of the box AP under the large-vocabulary
   protocols (AP-fixed, AP-pool, and both budgets scaled to LVIS's proportions), and writes
   results.json, results.md and the plots under the work dir (default
   work_dirs/longtail_{preset}/).
"""
import argparse
import functools
import glob
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from typing import Dict, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from mmdet_eql.evaluation import lvis_eval  # noqa: E402
from mmdet_eql.evaluation.lvis_reference import box_iou  # noqa: E402
from mmdet_eql.utils import load_json, sha256_files, write_json  # noqa: E402
from mmdet_eql.utils.run_config import definition_differences  # noqa: E402
from mmdet_eql.visualization import plots  # noqa: E402

#: the regimes: a folder of leaves each, one leaf a method (the same method names in each)
REGIMES = {
    # the backbone from scratch, 64 RoIs an image, 100 detections an image at test
    'scratch': osp.join(ROOT, 'configs', 'longtail-demo'),
    # the backbone pre-trained on a generated set with other labels (ImageNet's stand-in) and the
    # paper's conditions where affordable (128 RoIs, the paper's 512 cost 1.8x an iteration here;
    # its 300 detections); configs/longtail-demo-pretrained/_base_/
    'pretrained': osp.join(ROOT, 'configs', 'longtail-demo-pretrained'),
}
CONFIG_DIR = REGIMES['scratch']
KEYS = ('AP', 'APr', 'APc', 'APf')


def stated_benchmark(path: str) -> Optional[dict]:
    """The ``benchmark = dict(method=..., label=...)`` a config file states at its top level, read
    from its text (literal keyword values), without resolving its bases: resolving every leaf's
    ``mmdet::`` bases took about 5 s at each start of this script."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'benchmark' for t in node.targets):
            call = node.value
            if isinstance(call, ast.Call) and isinstance(call.func,
                                                         ast.Name) and call.func.id == 'dict':
                try:
                    return {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                except ValueError:
                    return None
            if isinstance(call, ast.Dict):
                try:
                    return ast.literal_eval(call)
                except ValueError:
                    return None
    return None


def discover_methods(config_dir: str = CONFIG_DIR) -> Dict[str, Tuple[str, str]]:
    """{method: (config path, label)} from the ``benchmark = dict(method=..., label=...)`` that
    every config of a regime's folder (configs/longtail-demo/ for the default one) states in its
    own text: a new method is one new leaf."""
    out = {}
    for path in sorted(glob.glob(osp.join(config_dir, '*.py'))):
        bench = stated_benchmark(path)
        if not bench or 'method' not in bench or 'label' not in bench:
            raise SystemExit(f'error: {path} states no benchmark = dict(method=..., label=...) '
                             'with literal values')
        if bench['method'] in out:
            raise SystemExit(f'error: {path} and {out[bench["method"]][0]} both state method '
                             f'{bench["method"]!r}')
        out[bench['method']] = (path, bench['label'])
    return out


REGIME_METHODS = {regime: discover_methods(d) for regime, d in REGIMES.items()}
METHODS = REGIME_METHODS['scratch']
LABELS = {m: label for methods in REGIME_METHODS.values() for m, (_, label) in methods.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', default='small', help='dataset preset (tiny, small, large)')
    parser.add_argument(
        '--regime',
        default='scratch',
        choices=sorted(REGIMES),
        help='scratch: the backbone from scratch (configs/longtail-demo/); pretrained: the '
        'backbone pre-trained on a generated set with other labels, made first when missing, and '
        'the paper\'s RoI and detection budgets (configs/longtail-demo-pretrained/); default '
        'scratch')
    parser.add_argument(
        '--pretrained-dir',
        default=osp.join('data', 'longtail_pretrain'),
        help='--regime pretrained: the pre-trained checkpoint\'s folder (made there when '
        'missing; tools/misc/pretrain_longtail_backbone.py); default data/longtail_pretrain')
    parser.add_argument(
        '--pretrain-options',
        nargs='+',
        default=[],
        metavar='KEY=INT',
        help='--regime pretrained: the pre-training\'s options other than its defaults '
        '(images_per_class, val_per_class, epochs, seed), e.g. for a quick check')
    parser.add_argument('--data-root', help='default: data/longtail_{preset}/')
    parser.add_argument('--data-seed', type=int, default=0, help='seed of the generated dataset')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    # the default is the main job, the like-for-like baseline and EQL, which fits 30 minutes
    # on a 2-core CPU; mmdet's softmax baseline adds about 10 more (three models measured 30.5 min)
    parser.add_argument(
        '--methods',
        nargs='+',
        default=['sigmoid', 'eql'],
        choices=sorted({m
                        for methods in REGIME_METHODS.values()
                        for m in methods}),
        help='default: sigmoid eql')
    parser.add_argument(
        '--work-dir',
        help='default: work_dirs/longtail_{preset}[_{max_iters}it]; a run in it is reused only if '
        'its recorded definition (config, data, preset, seeds, overrides) is the same')
    parser.add_argument('--max-iters', type=int, help='override the schedule length')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], help='extra key=value overrides for every run')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='trainings at once (a GPU machine: they share its GPU and CPU cores, each with '
        'OMP_NUM_THREADS = cores / jobs, and each logs to its work dir); default 1')
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='train nothing: report the finished runs of the work dir among --methods and '
        '--seeds (each method over the seeds it has)')
    parser.add_argument(
        '--retrain',
        action='store_true',
        help='train again even when a finished run is in the work dir (also one of another '
        'definition)')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    missing = [m for m in args.methods if m not in REGIME_METHODS[args.regime]]
    if missing:
        parser.error(f'--regime {args.regime} has no leaf for {", ".join(missing)} (its folder: '
                     f'{osp.relpath(REGIMES[args.regime], ROOT)}; its methods: '
                     f'{", ".join(sorted(REGIME_METHODS[args.regime]))})')
    args.pretrained = None  # the checkpoint's record, once ensure_pretrained found or made it
    args.pretrain_opts = {}
    for item in args.pretrain_options:
        k, _, v = item.partition('=')
        if k not in ('images_per_class', 'val_per_class', 'epochs', 'seed') or not v.isdigit():
            parser.error(f'--pretrain-options {item!r}: expected KEY=INT with KEY one of '
                         'images_per_class, val_per_class, epochs, seed')
        args.pretrain_opts[k] = int(v)
    if args.work_dir is None:
        suffix = f'_{args.max_iters}it' if args.max_iters else ''
        regime = '' if args.regime == 'scratch' else f'_{args.regime}'
        args.work_dir = osp.join('work_dirs', f'longtail_{args.preset}{regime}{suffix}')
    return args


def method_config(args, method: str) -> str:
    """The leaf of ``method`` in the run's regime."""
    return REGIME_METHODS[args.regime][method][0]


def ensure_pretrained(args) -> Optional[dict]:
    """--regime pretrained: the pre-trained checkpoint's record (made first when missing; a
    stale or mismatched one is refused: tools/misc/pretrain_longtail_backbone.py)."""
    if args.regime != 'pretrained':
        return None
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    import pretrain_longtail_backbone as pretrain
    record = pretrain.pretrain(args.pretrained_dir, args.pretrain_opts, retrain=False)
    record['checkpoint'] = osp.abspath(osp.join(args.pretrained_dir, 'backbone.pth'))
    print(f'[demo] pre-trained backbone {record["checkpoint"]} (val top-1 '
          f'{record["val"].get("top1", float("nan")):.1f} %)')
    return record


def ensure_dataset(preset: str, data_root: str, seed: int) -> dict:
    """Generates the dataset unless ``data_root`` holds it already, recognised by the preset's
    parameters and the seed recorded in its annotation file; another dataset there is an error.
    Returns the train file's ``info``."""
    from dataclasses import asdict

    from longtail import PRESETS  # tools/misc/longtail/, the generator
    if preset not in PRESETS:
        raise SystemExit(f'error: unknown --preset {preset!r}; known: {sorted(PRESETS)}')
    want = json.loads(json.dumps(asdict(PRESETS[preset])))  # tuples as lists, as in the file
    ann = osp.join(data_root, 'annotations', 'train.json')
    if osp.isfile(osp.join(data_root, 'annotations', 'class_freq.json')):
        info = load_json(ann, progress=False).get('info', {})
        if info.get('preset') == want and info.get('seed') == seed:
            print(f'[demo] dataset {data_root} is there ({info["description"]})')
            return info
        raise SystemExit(
            f'error: {data_root} holds another dataset ({info.get("description")}); the run '
            f'asks for preset {preset}, seed {seed}: remove it or pass --data-root')
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'misc', 'make_longtail_dataset.py'), data_root, '--preset', preset,
        '--seed',
        str(seed)
    ]
    if osp.isdir(data_root) and os.listdir(data_root):
        cmd.append('--overwrite')  # an unfinished earlier generation
    subprocess.run(cmd, check=True)
    return load_json(ann, progress=False)['info']


def preset_env(data_root: str,
               info: dict,
               max_iters: Optional[int],
               pretrained: Optional[dict] = None) -> Dict[str, str]:
    """The environment variables the benchmark's configs read (the preset; the train images with
    annotations; the pre-trained regime's checkpoint)."""
    p = info['preset']
    env = dict(
        LONGTAIL_DATA_ROOT=osp.abspath(data_root).rstrip('/') + '/',
        LONGTAIL_NUM_CLASSES=str(p['num_shapes'] * p['num_colours'] * p['num_textures']),
        LONGTAIL_IMAGE_SIZE=str(p['image_size']),
        # the denominator of the class frequencies (the EQL leaves' lambda at a group boundary,
        # the RFS leaves' threshold)
        LONGTAIL_FREQ_IMAGES=str(freq_images(data_root)))
    if max_iters:
        env['LONGTAIL_MAX_ITERS'] = str(max_iters)
    if pretrained:
        env['LONGTAIL_PRETRAINED'] = pretrained['checkpoint']
    return env


@functools.lru_cache(maxsize=None)
def freq_images(data_root: str) -> int:
    """The train images with annotations: the denominator of f in the dataset's class-frequency
    file (what EQLLoss compares lambda with)."""
    path = osp.join(data_root, 'annotations', 'class_freq.json')
    n = load_json(path, progress=False).get('num_images_with_annotations')
    if not isinstance(n, int) or n < 1:
        raise SystemExit(f'error: {path}: num_images_with_annotations must be a positive integer, '
                         f'got {n!r}')
    return n


@functools.lru_cache(maxsize=None)
def data_fingerprint(data_root: str) -> str:
    """sha256 of the three annotation files (the images follow from them and the seed); read
    once per invocation, not once per run (the dataset is fixed once ensure_dataset returned)."""
    return sha256_files(*(osp.join(data_root, 'annotations', name)
                          for name in ('train.json', 'val_lvis.json', 'val_strict.json')))


def resolved_config(method: str, seed: int, args, env: Dict[str, str]):
    """The method's config as it will run: preset variables, --cfg-options, the seed."""
    from mmengine.config import DictAction

    from mmdet_eql.utils.run_config import config_from_env
    cfg = config_from_env(method_config(args, method), env)
    opts = {}
    for item in args.cfg_options:
        if '=' not in item:
            raise SystemExit(f'error: --cfg-options {item!r}: expected key=value')
        k, v = item.split('=', 1)
        opts[k] = DictAction._parse_iterable(v)
    cfg.merge_from_dict(opts)
    cfg.merge_from_dict({'randomness.seed': seed})
    # evaluated once, by tools/test.py: no validation during training, and none after it either
    # (mmengine validates after the last iteration whatever the interval, unless val_begin is
    # past it: at 300 detections an image, a validation of steep took 93 s)
    cfg.merge_from_dict({
        'train_cfg.val_interval': 10**9,
        'train_cfg.val_begin': cfg.train_cfg.max_iters + 1
    })
    return cfg


def run_definition(method, seed, args, data_root, info, cfg) -> dict:
    out = dict(
        method=method,
        config=osp.relpath(method_config(args, method), ROOT),
        preset=args.preset,
        data_seed=info.get('seed'),
        data=data_fingerprint(data_root),
        seed=seed,
        max_iters=args.max_iters,
        cfg_options=list(args.cfg_options),
        resolved_config=config_digest(cfg, data_root, args.pretrained))
    if args.pretrained:  # the regime's checkpoint: a new pre-training is a new definition
        out['pretrained'] = args.pretrained['checkpoint_sha256']
    return out


def run_dir(args, method: str, seed: int) -> str:
    """The work dir of one (method, seed) run."""
    return osp.join(args.work_dir, f'{method}_seed{seed}')


def resolved_run(method: str, seed: int, args, data_root: str, info: dict) -> tuple:
    """(resolved config, run definition) of one (method, seed) run."""
    cfg = resolved_config(method, seed, args,
                          preset_env(data_root, info, args.max_iters, args.pretrained))
    return cfg, run_definition(method, seed, args, data_root, info, cfg)


def config_digest(cfg, data_root: str, pretrained: Optional[dict] = None) -> str:
    """sha256 of the resolved config with the data root's absolute path written as
    ``$LONGTAIL_DATA_ROOT/`` (and the pre-trained checkpoint's as ``$LONGTAIL_PRETRAINED``): the
    same run on another machine (or checkout) has the same digest; the data and the checkpoint
    themselves are compared by their fingerprints."""
    if pretrained:  # replaced before the layout (the runs of this regime are all new)
        from mmengine.config import Config

        from mmdet_eql.utils.run_config import portable_text
        cfg = Config.fromstring(
            portable_text(cfg, {pretrained['checkpoint']: 'LONGTAIL_PRETRAINED'}), '.py')
    # the data root after the layout, as the runs recorded so far were fingerprinted
    text = cfg.pretty_text.replace(osp.abspath(data_root).rstrip('/') + '/', '$LONGTAIL_DATA_ROOT/')
    return hashlib.sha256(text.encode()).hexdigest()


#: a refusal's words for the run definition's values that say nothing when printed
DEFINITION_WORDS = dict(data='the annotation files')


def check_record(wd: str, definition: dict, retrain: bool) -> bool:
    """True when ``wd`` holds a finished run of exactly ``definition``; refuses (SystemExit) a
    work dir that holds a run of another definition, or one without a record, unless
    ``retrain``."""
    record = osp.join(wd, 'run.json')
    finished = osp.isfile(osp.join(wd, 'dets.bbox.json')) or osp.isfile(osp.join(wd, 'eval.json'))
    if osp.isfile(record):
        old = load_json(record, progress=False)
        if old.get('definition') == definition:
            return finished and old.get('status') == 'finished' and not retrain
        if not retrain:
            differs = definition_differences(
                old.get('definition', {}), definition, DEFINITION_WORDS)
            raise SystemExit(f'error: {wd} holds a run of another definition (differs in: '
                             f'{differs}); pass --retrain to train it again there, or another '
                             '--work-dir')
    elif (finished or osp.isfile(osp.join(wd, 'last_checkpoint'))) and not retrain:
        raise SystemExit(f'error: {wd} holds a run without a record of its definition (made by an '
                         'older version of this script): pass --retrain or another --work-dir')
    return False


def _run(cmd, log: Optional[str], threads: Optional[int]) -> None:
    """A child process; with ``log``, its output goes to that file (parallel runs)."""
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(threads)
    if log is None:
        subprocess.run(cmd, check=True, env=env)
        return
    with open(log, 'a') as f:
        try:
            subprocess.run(cmd, check=True, env=env, stdout=f, stderr=subprocess.STDOUT)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f'{" ".join(cmd[1:3])} failed (exit {e.returncode}); see {log}')


def say(message: str) -> None:
    """Prints a line of the runner's, above the parallel runs' progress bar while there is one
    (tqdm.write clears and redraws every open bar; without one it only prints)."""
    from tqdm import tqdm
    tqdm.write(message)
    sys.stdout.flush()


def train_and_test(method: str,
                   seed: int,
                   args,
                   data_root: str,
                   info: dict,
                   log: bool = False,
                   threads: Optional[int] = None) -> str:
    wd = run_dir(args, method, seed)
    cfg, definition = resolved_run(method, seed, args, data_root, info)
    prefix = osp.join(wd, 'dets')
    if check_record(wd, definition, args.retrain):
        say(f'[demo] {method} seed {seed}: done earlier ({wd})')
        return prefix
    os.makedirs(wd, exist_ok=True)
    config = osp.join(wd, 'run_config.py')
    resumable = (not args.retrain and osp.isfile(osp.join(wd, 'last_checkpoint'))
                 and osp.isfile(osp.join(wd, 'run.json')))
    cfg.dump(config)
    write_json(dict(definition=definition, status='training'), osp.join(wd, 'run.json'))
    t0 = time.perf_counter()
    log_file = osp.join(wd, 'run.log') if log else None
    if not resumable:
        say(f'[demo] training {method} (seed {seed}) -> {wd}')
        _run([sys.executable,
              osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', wd], log_file, threads)
    with open(osp.join(wd, 'last_checkpoint')) as f:
        weights = f.read().strip()
    say(f'[demo] testing {method} (seed {seed})')
    _run([
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), config, weights, '--work-dir', wd, '--cfg-options',
        f'test_evaluator.outfile_prefix={prefix}'
    ], log_file, threads)
    write_json(dict(definition=definition, status='finished'), osp.join(wd, 'run.json'))
    say(f'[demo] {method} seed {seed}: {time.perf_counter() - t0:.0f} s')
    return prefix


def finished_run(method: str, seed: int, args, data_root: str, info: dict) -> Optional[str]:
    """The detections' prefix of the finished run of this definition in the work dir, None when
    there is none; a run of another definition there is an error (check_record)."""
    wd = run_dir(args, method, seed)
    if not osp.isfile(osp.join(wd, 'run.json')) and not osp.isfile(osp.join(wd, 'dets.bbox.json')):
        return None
    _, definition = resolved_run(method, seed, args, data_root, info)
    return osp.join(wd, 'dets') if check_record(wd, definition, retrain=False) else None


#: bumped whenever :func:`evaluate` changes what it measures: an eval.json of another version is
#: evaluated again (from the detections) or refused (without them)
EVAL_VERSION = 1


def detections_digest(prefix: str) -> Optional[str]:
    """sha256 of a run's detection files (box, and masks where there are), None without them."""
    if not osp.isfile(f'{prefix}.bbox.json'):
        return None
    return sha256_files(*(f'{prefix}.{iou}.json' for iou in ('bbox', 'segm')
                          if osp.isfile(f'{prefix}.{iou}.json')))


def _category_ids(results: dict) -> dict:
    """``results`` read back from JSON with the category ids of its per-category APs as ints
    again (JSON keys are strings), as :func:`evaluate` returns them."""
    out = {}
    for k, v in results.items():
        if isinstance(v, dict):
            v = {int(c): ap for c, ap in v.items()} if k == 'per_category' else _category_ids(v)
        out[k] = v
    return out


def run_evaluation(prefix: str, data_root: str) -> dict:
    """:func:`evaluate` of a finished run, kept beside its detections in eval.json with the
    detections' sha256, the annotation files' fingerprint and EVAL_VERSION: a later report reads
    it back instead of evaluating again while all three match. A run whose detections are gone
    (deleted to save space, or carried to another machine as its run.json, eval.json and the
    monitor's grad_ratio.json) is reported from its eval.json; one that no longer matches its
    data or this version of the evaluation is refused."""
    path = osp.join(osp.dirname(prefix), 'eval.json')
    dets, data = detections_digest(prefix), data_fingerprint(data_root)
    if osp.isfile(path):
        cached = load_json(path, progress=False)
        key = (cached.get('version'), cached.get('data'))
        if key == (EVAL_VERSION, data) and dets in (None, cached.get('detections')):
            return _category_ids(cached['results'])
        if dets is None:
            why = ('the annotation files' if cached.get('data') != data else
                   f'the evaluation\'s version ({cached.get("version")} -> {EVAL_VERSION})')
            raise SystemExit(f'error: {path} was evaluated with other {why} and the run\'s '
                             'detections are not beside it to evaluate again: pass --retrain, '
                             'or restore its dets.bbox.json (and dets.segm.json)')
    elif dets is None:
        raise SystemExit(f'error: {prefix}.bbox.json: the run is recorded as finished but has '
                         'neither its detections nor an eval.json: pass --retrain')
    results = evaluate(prefix, data_root)
    write_json(dict(version=EVAL_VERSION, data=data, detections=dets, results=results), path)
    return results


def evaluate(prefix: str, data_root: str) -> dict:
    out = {}
    for val in ('lvis', 'strict'):
        gt = load_json(osp.join(data_root, 'annotations', f'val_{val}.json'), progress=False)
        for iou in ('bbox', 'segm'):
            if osp.isfile(f'{prefix}.{iou}.json'):  # one-stage detectors have no masks
                out[f'{iou}/{val}'] = lvis_eval(gt, f'{prefix}.{iou}.json', iou, per_category=True)
    out['protocols'] = evaluate_protocols(prefix, data_root)
    strict = load_json(osp.join(data_root, 'annotations', 'val_strict.json'), progress=False)
    out['rare_detections'] = rare_detections(
        load_json(f'{prefix}.bbox.json', progress=False), strict)
    return out


#: LVIS v1 val's size and budgets: 300 detections an image over 1203 classes (standard), 10,000
#: a category over 19,809 images (AP-fixed)
LVIS_VAL = dict(images=19809, classes=1203, per_image=300, per_category=10000)


def lvis_budgets(num_images: int, num_classes: int) -> Tuple[int, int]:
    """(detections an image, detections a category) in LVIS v1 val's proportions: per class and
    image, 300 / 1203 = 0.25 detections under the standard cap, 10,000 / 19,809 = 0.50 under
    AP-fixed's."""
    per_image = max(1, round(LVIS_VAL['per_image'] * num_classes / LVIS_VAL['classes']))
    per_category = max(1, round(LVIS_VAL['per_category'] * num_images / LVIS_VAL['images']))
    return per_image, per_category


def evaluate_protocols(prefix: str, data_root: str) -> dict:
    """Box AP of a run on the LVIS-like val under LVIS's budgets as they are (standard: 300 an
    image; AP-fixed: 10,000 a category, and AP-pool), and under the same budgets scaled to this
    val's number of images and classes (at this size LVIS's own budgets never bind)."""
    gt = load_json(osp.join(data_root, 'annotations', 'val_lvis.json'), progress=False)
    path = f'{prefix}.bbox.json'
    per_image, per_category = lvis_budgets(len(gt['images']), len(gt['categories']))
    return {
        'fixed':
        lvis_eval(gt, path, 'bbox', protocol='fixed', pooled=True),
        'standard_scaled':
        lvis_eval(gt, path, 'bbox', max_dets=per_image),
        'fixed_scaled':
        lvis_eval(gt, path, 'bbox', protocol='fixed', dets_per_cat=per_category, pooled=True),
        'budgets':
        dict(per_image=per_image, per_category=per_category),
    }


def protocol_table(all_results: dict, seeds_of: dict) -> str:
    """Markdown: box AP (LVIS-like val) per method under the standard protocol, AP-fixed and
    AP-pool, as LVIS sets them and scaled to this val's size; mean over each method's seeds."""
    first = next(all_results[m][seeds[0]] for m, seeds in seeds_of.items())
    budgets = first['protocols']['budgets']
    columns = [('bbox/lvis', 'AP', 'AP'), ('bbox/lvis', 'APr', 'APr'), ('fixed', 'AP', 'AP-fixed'),
               ('fixed', 'APr', 'APr-fixed'), ('fixed', 'APpool', 'AP-pool'),
               ('fixed', 'APpool_r', 'AP-pool r'),
               ('standard_scaled', 'AP', f'AP, {budgets["per_image"]}/img'),
               ('standard_scaled', 'APr', f'APr, {budgets["per_image"]}/img'),
               ('fixed_scaled', 'AP', f'AP-fixed, {budgets["per_category"]}/cat'),
               ('fixed_scaled', 'APr', f'APr-fixed, {budgets["per_category"]}/cat'),
               ('fixed_scaled', 'APpool', f'AP-pool, {budgets["per_category"]}/cat')]
    lines = [
        '', 'Box AP (LVIS-like val) under the large-vocabulary protocols, mean over the seeds: '
        'the standard one (300 detections an image), AP-fixed (10,000 a category, no image '
        'limit) and AP-pool (one precision/recall curve over all classes, or the rare ones, on '
        'the AP-fixed detections); then the same budgets scaled to the size of this val in the '
        f'proportions of LVIS v1 val ({budgets["per_image"]} an image, '
        f'{budgets["per_category"]} a category):', '',
        '| method | seeds | ' + ' | '.join(c[2] for c in columns) + ' |',
        '|' + ' --- |' * (2 + len(columns))
    ]
    for m, seeds in seeds_of.items():
        cells = []
        for where, key, _ in columns:
            vals = [
                all_results[m][s][where][key]
                if where == 'bbox/lvis' else all_results[m][s]['protocols'][where][key]
                for s in seeds
            ]
            cells.append(f'{100 * np.mean(vals):.1f}')
        lines.append(f'| {LABELS[m]} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def scaled_budget_table(all_results: dict, seeds_of: dict) -> str:
    """Markdown: box AP, APr, APc, APf (LVIS-like val) under the per-image budget scaled to LVIS
    v1 val's proportions, mean ± sample std over the seeds: the measure of the direction table
    (docs/benchmark.md), where a rare class's detection is kept only if it outscores most others,
    as under LVIS's 300 an image over 1203 classes."""
    first = next(all_results[m][seeds[0]] for m, seeds in seeds_of.items())
    per_image = first['protocols']['budgets']['per_image']
    lines = [
        '', f'Box AP (LVIS-like val) with {per_image} detections an image, LVIS v1 val\'s '
        '300 an image over 1203 classes scaled to this val\'s classes; mean ± sample std over '
        'the seeds:', '', '| method | seeds | ' + ' | '.join(KEYS) + ' |',
        '|' + ' --- |' * (2 + len(KEYS))
    ]
    for m, seeds in seeds_of.items():
        cells = []
        for k in KEYS:
            mu, sd = mean_spread(
                [all_results[m][s]['protocols']['standard_scaled'][k] for s in seeds])
            cells.append(f'{mu:.1f}' + (f' ± {sd:.1f}' if len(seeds) > 1 else ''))
        lines.append(f'| {LABELS[m]} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def mean_spread(values):
    v = np.array(values, dtype=float) * 100
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else 0.0)


def result_tables(all_results: dict, seeds_of: dict, preset: str) -> str:
    """Markdown tables of AP, APr, APc, APf (box and mask) per method on both val files: mean and
    sample standard deviation over each method's seeds."""
    all_seeds = sorted({s for seeds in seeds_of.values() for s in seeds})
    lines = [
        f'Embedded long-tailed benchmark, preset {preset}, seeds {all_seeds}: AP in %, '
        'mean ± sample std over the seeds of each method (one seed: no spread)'
    ]
    header = '| method | seeds | ' + ' | '.join(f'{iou} {k}' for iou in ('box', 'mask')
                                                for k in KEYS) + ' |'
    for val, title in (('lvis', 'LVIS-like val (federated negatives)'),
                       ('strict', 'strict val (every absent class a negative)')):
        lines += ['', f'{title}:', '', header, '|' + ' --- |' * (2 + 2 * len(KEYS))]
        for m, seeds in seeds_of.items():
            cells = []
            for iou in ('bbox', 'segm'):
                for k in KEYS:
                    if f'{iou}/{val}' not in all_results[m][seeds[0]]:
                        cells.append('-')
                        continue
                    mu, sd = mean_spread([all_results[m][s][f'{iou}/{val}'][k] for s in seeds])
                    cells.append(f'{mu:.1f}' + (f' ± {sd:.1f}' if len(seeds) > 1 else ''))
            lines.append(f'| {LABELS[m]} | {",".join(map(str, seeds))} | ' + ' | '.join(cells) +
                         ' |')
    return '\n'.join(lines)


def result_plots(all_results: dict,
                 seeds_of: dict,
                 args,
                 data_root: str,
                 prefixes: Optional[dict] = None) -> dict:
    """ap_by_group.png (seed-averaged AP per frequency group, four panels, error bars of the
    seeds' standard deviation where a method has several), per_category_ap.png (seed-averaged
    bbox AP per category against training images) and, given the runs' detections
    (``prefixes``), rare_objects.jpg (rare-class val objects and each method's detections on
    them, first seed). Returns what the group plot drew and the rare figure's summary."""
    panels = [('bbox/lvis', 'bbox, LVIS-like val'), ('segm/lvis', 'segm, LVIS-like val'),
              ('bbox/strict', 'bbox, strict val'), ('segm/strict', 'segm, strict val')]
    group, spread = {}, {}
    for key, title in panels:
        group[title], spread[title] = {}, {}
        for m, seeds in seeds_of.items():
            if key not in all_results[m][seeds[0]]:
                continue
            values = {k: [all_results[m][s][key][k] for s in seeds] for k in KEYS}
            group[title][LABELS[m]] = {k: float(np.mean(v)) for k, v in values.items()}
            if len(seeds) > 1:  # the sample standard deviation, as the tables' +-
                spread[title][LABELS[m]] = {k: float(np.std(v, ddof=1)) for k, v in values.items()}
    seed_counts = sorted({len(s) for s in seeds_of.values()})
    bars = ('one seed each: no error bars' if seed_counts == [1] else
            f'{" or ".join(map(str, seed_counts))} seeds; error bars: +- the seeds\' standard '
            'deviation')
    out = dict(
        group=plots.plot_group_ap(
            group,
            osp.join(args.work_dir, 'ap_by_group.png'),
            title=f'Embedded long-tailed benchmark ({args.preset}), mean over the seeds of each '
            f'method ({bars})',
            spread=spread))
    with open(osp.join(data_root, 'annotations', 'train.json')) as f:
        counts, groups = plots.category_stats(json.load(f)['categories'])
    per_cat = {
        LABELS[m]: {
            c: float(np.mean([all_results[m][s]['bbox/lvis']['per_category'][c] for s in seeds]))
            for c in all_results[m][seeds[0]]['bbox/lvis']['per_category']
        }
        for m, seeds in seeds_of.items()
    }
    plots.plot_per_category_ap(
        per_cat,
        counts,
        groups,
        osp.join(args.work_dir, 'per_category_ap.png'),
        title='Per-category bbox AP (LVIS-like val) against training images')
    missing = [
        f'{m} seed {seeds[0]}' for m, seeds in seeds_of.items()
        if prefixes and not osp.isfile(f'{prefixes[m, seeds[0]]}.bbox.json')
    ]
    if missing:  # runs reported from their eval.json
        print('[demo] no rare_objects.jpg: the detections of ' + ', '.join(missing) +
              ' are not in the work dir (reported from eval.json)')
    elif prefixes:
        gt = load_json(osp.join(data_root, 'annotations', 'val_lvis.json'), progress=False)
        dets = {
            m: load_json(f'{prefixes[m, seeds[0]]}.bbox.json', progress=False)
            for m, seeds in seeds_of.items()
        }
        try:
            out['rare'] = plots.plot_rare_detections(
                gt,
                data_root,
                dets,
                osp.join(args.work_dir, 'rare_objects.jpg'),
                title=f'Rare-class val objects of {args.preset} and each method\'s detections '
                'on them (first seed)')
        except ValueError as e:  # a val set without rare objects
            print(f'[demo] no rare_objects.jpg: {e}')
    return out


def report(all_results: dict, args, data_root: str, prefixes: Optional[dict] = None) -> str:
    """The tables (returned), the plots and the gradient-ratio monitor's report."""
    methods = [m for m in args.methods if all_results.get(m)]
    seeds_of = {m: sorted(all_results[m]) for m in methods}
    text = result_tables(all_results, seeds_of, args.preset)
    result_plots(all_results, seeds_of, args, data_root, prefixes)
    rare = rare_detection_table(all_results, seeds_of)[0]
    return (text + protocol_table(all_results, seeds_of) +
            scaled_budget_table(all_results, seeds_of) + rare +
            grad_ratio_report(methods, seeds_of, args))


def rare_detections(dets: list, gt: dict) -> dict:
    """Where one run's rare-class detections go, on an exhaustively labelled val (strict): how
    many it keeps, their median and highest score, and how many of the rare val objects have a
    detection of their own class at IoU >= 0.5 anywhere in its list."""
    rare = {c['id'] for c in gt['categories'] if c.get('frequency') == 'r'}
    scores = [d['score'] for d in dets if d['category_id'] in rare]
    by_key = {}
    for d in dets:
        if d['category_id'] in rare:
            by_key.setdefault((d['image_id'], d['category_id']), []).append(d['bbox'])
    objects = [a for a in gt['annotations'] if a['category_id'] in rare]
    found = sum(
        any(
            box_iou(a['bbox'], b) >= 0.5 for b in by_key.get((a['image_id'], a['category_id']), ()))
        for a in objects)
    return dict(
        detections=len(scores),
        median_score=float(np.median(scores)) if scores else 0.0,
        highest_score=max(scores, default=0.0),
        objects=len(objects),
        objects_found=found)


def rare_detection_table(all_results: dict, seeds_of: dict) -> Tuple[str, dict]:
    """Markdown (and the numbers, {method: [per seed]}): :func:`rare_detections` of each run on
    the strict val (evaluate's ``rare_detections``), mean over each method's seeds."""
    numbers = {
        m: [all_results[m][s]['rare_detections'] for s in seeds]
        for m, seeds in seeds_of.items()
    }
    n_objects = next(iter(numbers.values()))[0]['objects']
    lines = [
        '', 'Where the rare classes\' detections go (box, strict val, mean over the seeds; the '
        'detections the model keeps): rare-class detections, their median and highest score, and '
        f'how many of the {n_objects} rare val objects have a detection of their own class at '
        'IoU >= 0.5 anywhere in the list:', '',
        '| method | seeds | rare detections | median score | highest score | '
        'rare objects with a same-class detection |', '| --- | --- | --- | --- | --- | --- |'
    ]
    for m, runs in numbers.items():
        mean = {k: np.mean([r[k] for r in runs]) for k in runs[0]}
        seeds = ','.join(map(str, seeds_of[m]))
        lines.append(f'| {LABELS[m]} | {seeds} | {mean["detections"]:.0f} | '
                     f'{mean["median_score"]:.2g} | {mean["highest_score"]:.2g} | '
                     f'{mean["objects_found"]:.1f} |')
    return '\n'.join(lines), numbers


def grad_ratio_report(methods, seeds_of, args) -> str:
    """The gradient-ratio monitor's reports (two-stage runs): a table of the mean ratio per
    frequency group, mean over seeds, and a plot of the first seed's per-class ratios."""
    found = {}
    for m in methods:
        reps = []
        for s in seeds_of[m]:
            files = sorted(glob.glob(osp.join(run_dir(args, m, s), '*', 'grad_ratio.json')))
            if files:
                reps.append(load_json(files[-1], progress=False))
        if reps:
            found[m] = reps
    if not found:
        return ''
    lines = [
        '', 'Mean positive/negative gradient ratio of the RoI classifier per frequency group '
        '(GradientRatioMonitorHook; a class with g << 1 is pushed down far more than up):', '',
        '| method | seeds | rare | common | frequent |', '| --- | --- | --- | --- | --- |'
    ]
    for m, reps in found.items():
        cells = [f"{np.mean([r['mean_ratio_by_group'][g] for r in reps]):.3g}" for g in 'rcf']
        lines.append(f'| {LABELS[m]} | {len(reps)} | ' + ' | '.join(cells) + ' |')
    # the negative gradient by source (reports written since the monitor splits it)
    split = {
        m: reps
        for m, reps in found.items() if all(r.get('mean_background_share_by_group') for r in reps)
    }
    if split:
        lines += [
            '', 'Share of the negative gradient that comes from background RoIs (the rest: '
            'foreground RoIs of other classes), mean over the classes of each group and the '
            'seeds:', '', '| method | seeds | rare | common | frequent |',
            '| --- | --- | --- | --- | --- |'
        ]
        for m, reps in split.items():
            cells = [
                f"{np.mean([r['mean_background_share_by_group'][g] for r in reps]):.3f}" if all(
                    g in r['mean_background_share_by_group'] for r in reps) else '-' for g in 'rcf'
            ]
            lines.append(f'| {LABELS[m]} | {len(reps)} | ' + ' | '.join(cells) + ' |')
    plots.plot_grad_ratio_compare({
        LABELS[m]: reps[0]
        for m, reps in found.items()
    }, osp.join(args.work_dir, 'grad_ratio.png'))
    if split:  # per class, first seed of each method
        plots.plot_grad_source_compare({
            LABELS[m]: reps[0]
            for m, reps in split.items()
        }, osp.join(args.work_dir, 'grad_sources.png'))
    return '\n' + '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    data_root = args.data_root or osp.join('data', f'longtail_{args.preset}')
    info = ensure_dataset(args.preset, data_root, args.data_seed)
    args.pretrained = ensure_pretrained(args)
    if args.pretrained:  # the checkpoint fits every leaf's backbone, key by key
        check_backbones(args, data_root, info)
    os.makedirs(args.work_dir, exist_ok=True)
    prefixes, failed = {}, []
    if args.report_only:
        for m in args.methods:
            for s in args.seeds:
                prefixes[m, s] = finished_run(m, s, args, data_root, info)
                if prefixes[m, s] is None:
                    print(f'[demo] {m} seed {s}: no finished run, left out of the report')
    elif args.jobs == 1:
        for m in args.methods:
            for s in args.seeds:
                prefixes[m, s] = train_and_test(m, s, args, data_root, info)
    else:
        prefixes, failed = train_in_parallel(args, data_root, info)
    all_results = {}
    for m in args.methods:
        all_results[m] = {}
        for s in args.seeds:
            if prefixes.get((m, s)) is not None:
                all_results[m][s] = run_evaluation(prefixes[m, s], data_root)
    if not any(all_results.values()):
        raise SystemExit(f'error: no finished run in {args.work_dir} for these methods and seeds')
    text = report(all_results, args, data_root, prefixes)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(
                preset=args.preset,
                regime=args.regime,
                seeds=args.seeds,
                methods=args.methods,
                results={
                    m: {
                        str(s): r
                        for s, r in v.items()
                    }
                    for m, v in all_results.items()
                }),
            f,
            indent=1,
            default=str)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    extra = [
        f for f in ('rare_objects.jpg', 'grad_ratio.png', 'grad_sources.png')
        if osp.isfile(osp.join(args.work_dir, f))
    ]
    print(f'\n[demo] plots: {args.work_dir}/ap_by_group.png, {args.work_dir}/per_category_ap.png' +
          ''.join(f', {args.work_dir}/{f}' for f in extra))
    print(f'[demo] total {time.perf_counter() - t0:.0f} s')
    if failed:
        print('[demo] failed, left out of the report:\n  ' + '\n  '.join(failed), file=sys.stderr)
        return 1
    return 0


def check_backbones(args, data_root: str, info: dict) -> None:
    """Refuses a pre-trained checkpoint that does not fit a run's backbone (mmengine's Pretrained
    init would only warn)."""
    import pretrain_longtail_backbone as pretrain
    seen = set()
    for m in args.methods:
        cfg = resolved_config(m, args.seeds[0], args,
                              preset_env(data_root, info, args.max_iters, args.pretrained))
        backbone = cfg.model.backbone.to_dict()
        key = json.dumps(backbone, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        init = backbone.get('init_cfg') or {}
        try:
            pretrain.check_backbone(backbone, init.get('checkpoint', args.pretrained['checkpoint']),
                                    init.get('prefix', 'backbone.'))
        except ValueError as e:
            raise SystemExit(f'error: {method_config(args, m)}: {e}')


def train_in_parallel(args, data_root: str, info: dict) -> Tuple[dict, list]:
    """Every (method, seed) run, ``args.jobs`` at a time, seeds first (so that a run stopped
    early has whole seeds), each logging to its work dir; returns the detections' prefixes of
    the runs that finished and the errors of those that failed."""
    from concurrent.futures import ThreadPoolExecutor
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    runs = [(m, s) for s in args.seeds for m in args.methods]
    # each run's definition is checked before any training starts
    iters, done_before, offsets = {}, set(), {}
    for m, s in runs:
        cfg, definition = resolved_run(m, s, args, data_root, info)
        iters[m, s] = int(cfg.get('train_cfg', {}).get('max_iters') or 0)
        if check_record(run_dir(args, m, s), definition, args.retrain):
            done_before.add((m, s))
        log = osp.join(run_dir(args, m, s), 'run.log')
        offsets[m, s] = osp.getsize(log) if osp.isfile(log) else 0  # earlier attempts' lines
    prefixes, failed = {}, []
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            run: pool.submit(train_and_test, *run, args, data_root, info, True, threads)
            for run in runs
        }
        watcher = threading.Thread(
            target=_show_progress,
            args=(args, iters, done_before, offsets, futures, stop),
            daemon=True)
        watcher.start()
        try:
            for (m, s), future in futures.items():
                try:
                    prefixes[m, s] = future.result()
                except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
                    failed.append(f'{m} seed {s}: {e}')
        finally:
            stop.set()
            watcher.join()
    return prefixes, failed


#: mmengine's training log line, ``Iter(train) [ 350/900]``
ITER_LINE = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')


def logged_iterations(log: str, offset: int = 0) -> int:
    """The last training iteration that the log file ``log`` reports after byte ``offset``
    (mmengine's ``Iter(train) [n/N]`` lines; read from its last 64 KiB); 0 when none."""
    try:
        with open(log, 'rb') as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(offset, size - 65536))
            text = f.read().decode(errors='replace')
    except OSError:
        return 0
    found = ITER_LINE.findall(text)
    return int(found[-1][0]) if found else 0


def _show_progress(args,
                   iters: dict,
                   done_before: set,
                   offsets: dict,
                   futures: dict,
                   stop: threading.Event,
                   every: float = 30.0) -> None:
    """One progress bar over the training iterations of every run of a parallel call (their
    output goes to their logs), read from the logs every ``every`` seconds; the runner's lines
    (:func:`say`) are printed above it."""
    from tqdm import tqdm

    def done() -> int:
        n = 0
        for run, total in iters.items():
            if run in done_before or futures[run].done():
                n += total
            else:
                log = osp.join(run_dir(args, *run), 'run.log')
                n += min(total, logged_iterations(log, offsets[run]))
        return n

    initial = sum(iters[run] for run in done_before)
    with tqdm(
            total=sum(iters.values()),
            initial=initial,
            desc=f'[demo] {len(iters) - len(done_before)} runs, {args.jobs} at a time',
            unit='it',
            mininterval=0) as bar:
        while not stop.wait(every):
            bar.update(done() - bar.n)
        bar.update(done() - bar.n)


if __name__ == '__main__':
    sys.exit(main())
