"""Generate the benchmark's long-tailed dataset (LVIS v1 format) into OUT_DIR: the command line of
:func:`mmdet_eql.benchmark.synthetic.generate`.

    python tools/benchmark/make_dataset.py data/longtail_small --preset small --seed 0

Writes OUT_DIR/{train,val}/*.png and OUT_DIR/annotations/{train,val_lvis,val_strict}.json, and
prints the tail's statistics (classes per frequency group, each group's share of the train
instances, the median rare class's share) next to LVIS v1's. The same preset and seed give
byte-identical files on one machine (and here across numpy 1.26 and 2.4; the annotation files
written on another host, Python 3.12 with numpy 2.5, differed: compare their sha256 before mixing
runs; the benchmark runner's data fingerprint refuses to). Presets: tiny (tests), small, steep
(LVIS's regime; make demo's), large (a CUDA machine); docs/benchmark.md.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time

from mmdet_eql.benchmark.synthetic import PRESETS, generate


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', help='output directory (must be empty or absent)')
    parser.add_argument('--preset', default='small', choices=sorted(PRESETS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite', action='store_true', help='replace the contents of a non-empty OUT_DIR')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        print(f'error: {args.out_dir!r} exists and is not a directory', file=sys.stderr)
        return 2
    if osp.isdir(args.out_dir) and os.listdir(args.out_dir):
        if not args.overwrite:
            print(
                f'error: output directory {args.out_dir!r} is not empty; pass --overwrite to '
                'replace its contents',
                file=sys.stderr)
            return 2
        shutil.rmtree(args.out_dir)
    t0 = time.perf_counter()
    try:
        os.makedirs(args.out_dir, exist_ok=True)
        summary = generate(
            args.out_dir, preset=args.preset, seed=args.seed, progress=not args.quiet)
    except (ValueError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    g = summary['groups']
    print(f"{summary['classes']} classes (rare {g['r']}, common {g['c']}, frequent {g['f']}), "
          f"{summary['train_images']} train images / {summary['train_annotations']} objects, "
          f"{summary['val_images']} val images / {summary['val_annotations']} objects -> "
          f'{args.out_dir} ({time.perf_counter() - t0:.1f} s)')
    t = summary['tail']
    share = ' / '.join(f"{100 * t['instance_share'][k]:.2f}" for k in 'rcf')
    median = 'no rare class' if t['median_rare_share'] is None else \
        f"{t['median_rare_share']:.1e}"
    print(f'tail: share of train instances in rare / common / frequent classes {share} % '
          f'(LVIS v1 train: 0.4 / 5.1 / 94.5), median rare class {median} of all instances '
          '(LVIS v1: 5.5e-06)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
