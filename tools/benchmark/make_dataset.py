"""Generate the benchmark's long-tailed dataset (LVIS v1 format) into OUT_DIR: the command line of
:func:`mmdet_eql.benchmark.synthetic.generate`.

    python tools/benchmark/make_dataset.py data/longtail_small --preset small --seed 0

The command line of :mod:`mmdet_eql.benchmark.synthetic.cli`;
its documentation says the rest.
"""
import sys

from mmdet_eql.benchmark.synthetic.cli import main

if __name__ == '__main__':
    sys.exit(main())
