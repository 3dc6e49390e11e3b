"""Time of a whole training step of the benchmark model with each EQL implementation.

    python tools/speed/eql_step.py [--steps 20] [--rounds 3] [--device cpu]

The command line of :mod:`mmdet_eql.speed.eql_step`;
its documentation says the rest.
"""
import sys

from mmdet_eql.speed.eql_step import main

if __name__ == '__main__':
    sys.exit(main())
