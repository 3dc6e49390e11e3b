"""The benchmark, end to end: generate the data, train and test each method's leaf, evaluate,
report (``make demo`` runs it). Usage and steps: :mod:`mmdet_eql.benchmark.detection`.

    python tools/benchmark/run.py [--preset steep] [--regime scratch|pretrained] [--seeds 0 1 2]
                                  [--methods sigmoid eql ...] [--jobs N] [--report-only]
"""
import sys

from mmdet_eql.benchmark.detection import main

if __name__ == '__main__':
    sys.exit(main())
