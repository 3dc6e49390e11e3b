"""Generate the benchmark's long-tailed classification set into OUT_DIR.

    python tools/benchmark/make_cls_dataset.py data/longtail_cls_ir100 --imbalance 100

The command line of :mod:`mmdet_eql.benchmark.synthetic.classification`;
its documentation says the rest.
"""
import sys

from mmdet_eql.benchmark.synthetic.classification import main

if __name__ == '__main__':
    sys.exit(main())
