"""Per-category frequencies of an LVIS- or COCO-format annotation file, for ``class_freq``.

    python tools/analysis_tools/class_frequency.py ANN_FILE --out OUT.json [--groups counts|file]

The command line of :mod:`mmdet_eql.analysis.class_frequency`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.class_frequency import main

if __name__ == '__main__':
    sys.exit(main())
