"""The benchmark's classification runner: softmax cross-entropy against the softmax EQL on the
long-tailed classification set (``tools/benchmark/run_cls.py``).

    python tools/benchmark/run_cls.py --imbalance 100 200 --seeds 0 1 2 --jobs 2 [--report-only]

The command line of :mod:`mmdet_eql.benchmark.classification`;
its documentation says the rest.
"""
import sys

from mmdet_eql.benchmark.classification import main

if __name__ == '__main__':
    sys.exit(main())
