"""The embedded benchmark against the published tables: one row per published comparison, the
published change beside the measured one, agree / disagree / within noise.

    python tools/benchmark/direction_table.py work_dirs/longtail_steep_pretrained/results.json
        [--measure scaled|standard] [--rows published|ablations] [--markdown out.md]

The command line of :mod:`mmdet_eql.benchmark.direction`;
its documentation says the rest.
"""
import sys

from mmdet_eql.benchmark.direction import main

if __name__ == '__main__':
    sys.exit(main())
