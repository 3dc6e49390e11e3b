"""Convert an EQL authors' released model (eql.detectron2, eqlv2) to the mmdet 3.x checkpoint of
the leaf that reproduces it, checked key by key against that leaf's model.

    python tools/model_converters/authors_to_mmdet.py MODEL SRC DST [--config LEAF]
    python tools/model_converters/authors_to_mmdet.py --list

The command line of :mod:`mmdet_eql.apis.convert`;
its documentation says the rest.
"""
import sys

from mmdet_eql.apis.convert import main

if __name__ == '__main__':
    sys.exit(main())
