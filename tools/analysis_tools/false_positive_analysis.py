"""Where detections of each frequency group go: true positives, and false positives on other
classes' objects (look-alikes) or on background.

    python tools/analysis_tools/false_positive_analysis.py GT RESULTS [RESULTS ...]
                                                           [--score-thr 0.3] [--per-image K]

The command line of :mod:`mmdet_eql.analysis.false_positives`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.false_positives import main

if __name__ == '__main__':
    sys.exit(main())
