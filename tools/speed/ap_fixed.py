"""AP-fixed and AP-pool at LVIS-val scale: time and peak memory of the fast evaluator, of
FastLVISMetric, and of the plain-Python evaluator written from the definitions, on one input.

    python tools/speed/ap_fixed.py [--images 19809] [--dets-per-cat 11000]
        [--keep-per-cat 10000] [--skip-reference] [--work-dir DIR]

The command line of :mod:`mmdet_eql.speed.ap_fixed`;
its documentation says the rest.
"""
import sys

from mmdet_eql.speed.ap_fixed import main

if __name__ == '__main__':
    sys.exit(main())
