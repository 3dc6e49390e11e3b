"""Test (and evaluate) a detector: mmdet's ``tools/test.py`` entry point, with mmdet_eql loaded.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl] [--show]
                         [--show-dir DIR] [--tta] [--cfg-options k=v ...] [--launcher ...]
                         [--data-root DIR]

The command line of :mod:`mmdet_eql.apis.test`;
its documentation says the rest.
"""
import sys

from mmdet_eql.apis.test import main

if __name__ == '__main__':
    sys.exit(main())
