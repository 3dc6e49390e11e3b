"""Evaluate LVIS-format detections exactly as lvis-api does, fast; also AP-fixed and AP-pool.

    python tools/analysis_tools/eval_lvis.py GT RESULTS [--iou-type bbox segm] [--out-dir DIR]
        [--protocol standard fixed] [--pooled] [--dets-per-cat 10000]

The command line of :mod:`mmdet_eql.analysis.eval_lvis`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.eval_lvis import main

if __name__ == '__main__':
    sys.exit(main())
