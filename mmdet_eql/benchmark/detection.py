"""The benchmark's detection runner, end to end (``make demo``; ``tools/benchmark/run.py``).

    python tools/benchmark/run.py [--preset small] [--regime scratch|pretrained] [--seeds 0 1 2]
                                  [--methods sigmoid eql ...] [--jobs N] [--report-only]

1. generates the dataset (data/longtail_{preset}/, skipped when it holds that preset and seed);
2. trains each method's leaf (configs/benchmark/; :mod:`mmdet_eql.benchmark.methods`) in the
   regime with tools/train.py, same seed and schedule (``--jobs N``: N at a time). The preset
   reaches the configs through the environment variables their base reads (LONGTAIL_DATA_ROOT,
   LONGTAIL_NUM_CLASSES, LONGTAIL_IMAGE_SIZE, LONGTAIL_FREQ_IMAGES, LONGTAIL_MAX_ITERS); each
   run's resolved config is written to its work dir (run_config.py) with a record of its
   definition (run.json; :mod:`mmdet_eql.benchmark.runs`);
3. tests each with tools/test.py, then evaluates its detections (eval.json;
   :mod:`mmdet_eql.benchmark.evaluation`); a run whose detections are gone is reported from it
   (docs/runs/README.md);
4. reports (:mod:`mmdet_eql.benchmark.report`): the tables, results.json, results.md and the plots
   under the work dir (default work_dirs/benchmark_{preset}[_{regime}]/).
"""
import argparse
import functools
import hashlib
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, Optional, Tuple

from mmdet_eql.benchmark import methods as bench_methods
from mmdet_eql.benchmark.evaluation import data_fingerprint, run_evaluation
from mmdet_eql.benchmark.report import report, write_results
from mmdet_eql.benchmark.runs import (check_record, launch, run_dir, run_in_parallel, say,
                                      write_record)
from mmdet_eql.utils import load_json
from mmdet_eql.utils.paths import REPO_ROOT, repo_path

#: the methods when none are given: the sigmoid baseline, EQL, and the positive control of
#: ``make demo`` (EQL + RFS: the largest rare-class gain in steep-from-scratch's tables)
DEFAULT_METHODS = ('sigmoid', 'eql', 'eql-rfs')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--preset',
        default='small',
        help='dataset preset (tiny, small, steep, large; mmdet_eql/benchmark/synthetic/presets.py)')
    parser.add_argument(
        '--regime',
        default='scratch',
        choices=sorted(bench_methods.REGIMES),
        help='scratch: the leaves of configs/benchmark/ as they are (the backbone from scratch); '
        'pretrained: the same leaves with configs/benchmark/regimes/pretrained.py (the backbone '
        'pre-trained on a generated set with other labels, made first when missing, and the '
        'paper\'s RoI and detection budgets; two-stage leaves); default scratch')
    parser.add_argument(
        '--pretrained-dir',
        default=osp.join('data', 'longtail_pretrain'),
        help='--regime pretrained: the pre-trained checkpoint\'s folder (made there when '
        'missing; tools/benchmark/pretrain_backbone.py); default data/longtail_pretrain')
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
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(DEFAULT_METHODS),
        choices=sorted(bench_methods.discover_methods()),
        help='the methods (each one leaf of configs/benchmark/); default: ' +
        ' '.join(DEFAULT_METHODS))
    parser.add_argument(
        '--work-dir',
        help='default: work_dirs/benchmark_{preset}[_{regime}][_{max_iters}it]; a run in it is '
        'reused only if its recorded definition (config, data, preset, seeds, overrides) is the '
        'same')
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
    allowed = bench_methods.regime_methods(args.regime)
    missing = [m for m in args.methods if m not in allowed]
    if missing:
        parser.error(f'--regime {args.regime} is defined for the leaves of '
                     f'{", ".join(bench_methods.REGIMES[args.regime][1] or ())} only, not for '
                     f'{", ".join(missing)} (its methods: {", ".join(sorted(allowed))})')
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
        args.work_dir = osp.join('work_dirs', f'benchmark_{args.preset}{regime}{suffix}')
    return args


def method_config(args, method: str) -> str:
    """The leaf of ``method``."""
    return bench_methods.discover_methods()[method][0]


def ensure_pretrained(args) -> Optional[dict]:
    """--regime pretrained: the pre-trained checkpoint's record (made first when missing; a
    stale or mismatched one is refused: tools/benchmark/pretrain_backbone.py)."""
    if args.regime != 'pretrained':
        return None
    from mmdet_eql.benchmark import pretrain
    record = pretrain.pretrain(args.pretrained_dir, args.pretrain_opts, retrain=False)
    record['checkpoint'] = osp.abspath(osp.join(args.pretrained_dir, 'backbone.pth'))
    print(f'[benchmark] pre-trained backbone {record["checkpoint"]} (val top-1 '
          f'{record["val"].get("top1", float("nan")):.1f} %)')
    return record


def ensure_dataset(preset: str, data_root: str, seed: int) -> dict:
    """Generates the dataset unless ``data_root`` holds it already, recognised by the preset's
    parameters and the seed recorded in its annotation file; another dataset there is an error.
    Returns the train file's ``info``."""
    from dataclasses import asdict

    from mmdet_eql.benchmark.synthetic import PRESETS
    if preset not in PRESETS:
        raise SystemExit(f'error: unknown --preset {preset!r}; known: {sorted(PRESETS)}')
    want = json.loads(json.dumps(asdict(PRESETS[preset])))  # tuples as lists, as in the file
    ann = osp.join(data_root, 'annotations', 'train.json')
    if osp.isfile(osp.join(data_root, 'annotations', 'class_freq.json')):
        info = load_json(ann, progress=False).get('info', {})
        if info.get('preset') == want and info.get('seed') == seed:
            print(f'[benchmark] dataset {data_root} is there ({info["description"]})')
            return info
        raise SystemExit(
            f'error: {data_root} holds another dataset ({info.get("description")}); the run '
            f'asks for preset {preset}, seed {seed}: remove it or pass --data-root')
    cmd = [
        sys.executable,
        repo_path('tools', 'benchmark', 'make_dataset.py'), data_root, '--preset', preset, '--seed',
        str(seed)
    ]
    if osp.isdir(data_root) and os.listdir(data_root):
        cmd.append('--overwrite')  # an unfinished earlier generation
    launch(cmd)
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


def resolved_config(method: str, seed: int, args, env: Dict[str, str]):
    """The method's config as it will run: preset variables, --cfg-options, the seed."""
    from mmengine.config import DictAction

    cfg = bench_methods.load_config(method_config(args, method), args.regime, env)
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
        config=osp.relpath(method_config(args, method), REPO_ROOT),
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


def train_and_test(method: str,
                   seed: int,
                   args,
                   data_root: str,
                   info: dict,
                   log: bool = False,
                   threads: Optional[int] = None) -> str:
    wd = run_dir(args.work_dir, method, seed)
    cfg, definition = resolved_run(method, seed, args, data_root, info)
    prefix = osp.join(wd, 'dets')
    if check_record(wd, definition, args.retrain):
        say(f'[benchmark] {method} seed {seed}: done earlier ({wd})')
        return prefix
    os.makedirs(wd, exist_ok=True)
    config = osp.join(wd, 'run_config.py')
    resumable = (not args.retrain and osp.isfile(osp.join(wd, 'last_checkpoint'))
                 and osp.isfile(osp.join(wd, 'run.json')))
    cfg.dump(config)
    write_record(wd, definition, 'training')
    t0 = time.perf_counter()
    log_file = osp.join(wd, 'run.log') if log else None
    if not resumable:
        say(f'[benchmark] training {method} (seed {seed}) -> {wd}')
        launch([sys.executable,
                repo_path('tools', 'train.py'), config, '--work-dir', wd], log_file, threads)
    with open(osp.join(wd, 'last_checkpoint')) as f:
        weights = f.read().strip()
    say(f'[benchmark] testing {method} (seed {seed})')
    launch([
        sys.executable,
        repo_path('tools', 'test.py'), config, weights, '--work-dir', wd, '--cfg-options',
        f'test_evaluator.outfile_prefix={prefix}'
    ], log_file, threads)
    write_record(wd, definition, 'finished')
    say(f'[benchmark] {method} seed {seed}: {time.perf_counter() - t0:.0f} s')
    return prefix


def finished_run(method: str, seed: int, args, data_root: str, info: dict) -> Optional[str]:
    """The detections' prefix of the finished run of this definition in the work dir, None when
    there is none; a run of another definition there is an error (check_record)."""
    wd = run_dir(args.work_dir, method, seed)
    if not osp.isfile(osp.join(wd, 'run.json')) and not osp.isfile(osp.join(wd, 'dets.bbox.json')):
        return None
    _, definition = resolved_run(method, seed, args, data_root, info)
    return osp.join(wd, 'dets') if check_record(wd, definition, retrain=False) else None


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
                    print(f'[benchmark] {m} seed {s}: no finished run, left out of the report')
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
    write_results(all_results, args, text)
    print('\n' + text)
    extra = [
        f for f in ('rare_objects.jpg', 'grad_ratio.png', 'grad_sources.png')
        if osp.isfile(osp.join(args.work_dir, f))
    ]
    print(
        f'\n[benchmark] plots: {args.work_dir}/ap_by_group.png, {args.work_dir}/per_category_ap.png'
        + ''.join(f', {args.work_dir}/{f}' for f in extra))
    print(f'[benchmark] total {time.perf_counter() - t0:.0f} s')
    if failed:
        print(
            '[benchmark] failed, left out of the report:\n  ' + '\n  '.join(failed),
            file=sys.stderr)
        return 1
    return 0


def check_backbones(args, data_root: str, info: dict) -> None:
    """Refuses a pre-trained checkpoint that does not fit a run's backbone (mmengine's Pretrained
    init would only warn)."""
    from mmdet_eql.benchmark import pretrain
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
    early has whole seeds), each logging to its work dir under one progress bar; returns the
    detections' prefixes of the runs that finished and the errors of those that failed."""
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    runs = [(m, s) for s in args.seeds for m in args.methods]
    # each run's definition is checked before any training starts
    iters, done_before = {}, set()
    for m, s in runs:
        cfg, definition = resolved_run(m, s, args, data_root, info)
        iters[m, s] = int(cfg.get('train_cfg', {}).get('max_iters') or 0)
        if check_record(run_dir(args.work_dir, m, s), definition, args.retrain):
            done_before.add((m, s))
    return run_in_parallel(
        {
            run: functools.partial(train_and_test, *run, args, data_root, info, True, threads)
            for run in runs
        },
        args.jobs,
        logs={run: osp.join(run_dir(args.work_dir, *run), 'run.log')
              for run in runs},
        totals=iters,
        done_before=done_before,
        name=lambda run: f'{run[0]} seed {run[1]}')
