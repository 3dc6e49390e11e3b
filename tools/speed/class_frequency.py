"""Time tools/analysis_tools/class_frequency.py on a generated file the size of LVIS v1 train.

    python tools/speed/class_frequency.py [--images 100170] [--anns 1270141]

The command line of :mod:`mmdet_eql.speed.class_frequency`;
its documentation says the rest.
"""
import sys

from mmdet_eql.speed.class_frequency import main

if __name__ == '__main__':
    sys.exit(main())
