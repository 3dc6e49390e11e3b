"""Per-class report of a model's detections: the classes, above all rare ones, it misses; and two
models side by side.

    python tools/analysis_tools/per_class_report.py GT RESULTS [--baseline RESULTS_B]
        [--class-freq FREQ.json] [--lambda L | --leaf LEAF.py] [--out-dir DIR]

The command line of :mod:`mmdet_eql.analysis.per_class_report`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.per_class_report import main

if __name__ == '__main__':
    sys.exit(main())
