"""Writes a synthetic dataset in the exact LVIS v1 or v0.5 format, with the real category lists.

    python tools/misc/make_lvis_format_data.py OUT_DIR [--version v1] [--train 100] [--val 20]
                                              [--objects 12.7] [--seed 0]
                                              [--stand-in-weights TORCH_HOME]

The command line of :mod:`mmdet_eql.datasets.synthetic_lvis`;
its documentation says the rest.
"""
import sys

from mmdet_eql.datasets.synthetic_lvis import main

if __name__ == '__main__':
    sys.exit(main())
