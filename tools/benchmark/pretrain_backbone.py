"""Pre-train the embedded benchmark's backbone: its stand-in for ImageNet, made once and cached.

    python tools/benchmark/pretrain_backbone.py [--out-dir data/longtail_pretrain]

The command line of :mod:`mmdet_eql.benchmark.pretrain`;
its documentation says the rest.
"""
import sys

from mmdet_eql.benchmark.pretrain import main

if __name__ == '__main__':
    sys.exit(main())
