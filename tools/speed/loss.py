"""Forward + backward time and memory of EQLLoss against plain sigmoid BCE and softmax CE.

    python tools/speed/loss.py [--rois 1024 8192] [--classes 1203] [--no-compile]

The command line of :mod:`mmdet_eql.speed.loss`;
its documentation says the rest.
"""
import sys

from mmdet_eql.speed.loss import main

if __name__ == '__main__':
    sys.exit(main())
