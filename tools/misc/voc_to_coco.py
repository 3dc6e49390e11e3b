"""Pascal VOC-style XML annotations with your own classes -> the COCO-format files the own-data
path reads (box-only).

    python tools/misc/voc_to_coco.py VOC_ROOT --out-dir VOC_ROOT/annotations [--splits train val]

The command line of :mod:`mmdet_eql.analysis.voc_to_coco`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.voc_to_coco import main

if __name__ == '__main__':
    sys.exit(main())
