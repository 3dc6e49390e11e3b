"""What the real LVIS leaves cost: training and test speed, memory, and the evaluator at LVIS scale.

    python tools/speed/lvis_train.py [--iters 50] [--batch 2]
        [--leaves configs/eql/mask-rcnn_r50_fpn_random-ms-1x_lvis-v1.py
                  configs/eql/mask-rcnn_r50_fpn_eql_random-ms-1x_lvis-v1.py]
        [--val-images 20] [--short-side 800] [--eval-images 19809] [--work-dir DIR]

The command line of :mod:`mmdet_eql.speed.lvis_train`;
its documentation says the rest.
"""
import sys

from mmdet_eql.speed.lvis_train import main

if __name__ == '__main__':
    sys.exit(main())
