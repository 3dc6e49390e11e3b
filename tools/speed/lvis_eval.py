"""Time lvis-api against mmdet_eql's evaluator on a synthetic LVIS v1-like result set.

    python tools/speed/lvis_eval.py [--images 2000] [--dets-per-image 200]

The command line of :mod:`mmdet_eql.speed.lvis_eval`;
its documentation says the rest.
"""
import sys

from mmdet_eql.speed.lvis_eval import main

if __name__ == '__main__':
    sys.exit(main())
