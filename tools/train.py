"""Train a detector: mmdet's ``tools/train.py`` entry point, with the mmdet_eql plugin loaded.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
                                 [--data-root DIR] [--max-iters N]

The command line of :mod:`mmdet_eql.apis.train`;
its documentation says the rest.
"""
import sys

from mmdet_eql.apis.train import main

if __name__ == '__main__':
    sys.exit(main())
