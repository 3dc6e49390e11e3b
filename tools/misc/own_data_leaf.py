"""A leaf config for your own COCO-format dataset, written from its annotation files.

    python tools/misc/own_data_leaf.py DATA_ROOT --out configs/my_data/my_leaf.py
        [--train-ann annotations/train.json] [--val-ann annotations/val.json]
        [--train-images train/] [--val-images val/] [--lambda tail-ratio|rare|rare+common|VALUE]

The command line of :mod:`mmdet_eql.analysis.own_data`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.own_data import main

if __name__ == '__main__':
    sys.exit(main())
