"""Re-score finished benchmark runs on val files that differ only in how many verified-absent
categories (``neg_category_ids``) each image lists: how much of each method's AP and APr is
decided by the federated protocol's false positives.

    python tools/benchmark/rescore_negatives.py WORK_DIR --data-root DATA_ROOT
        [--methods sigmoid eql ...] [--seeds 0 1 2] [--levels 0 1 2 5 10 20 all] [--draws 5]

The command line of :mod:`mmdet_eql.benchmark.rescore`;
its documentation says the rest.
"""
import sys

from mmdet_eql.benchmark.rescore import main

if __name__ == '__main__':
    sys.exit(main())
