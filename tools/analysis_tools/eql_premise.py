"""Does EQL's premise hold on my data? Reads a run's gradient-ratio report and prints, per
frequency group, how much of the classes' discouraging (negative) gradient EQL at a given lambda
would remove.

    python tools/analysis_tools/eql_premise.py work_dirs/RUN/*/grad_ratio.json --lambda 0.0011

The command line of :mod:`mmdet_eql.analysis.eql_premise`;
its documentation says the rest.
"""
import sys

from mmdet_eql.analysis.eql_premise import main

if __name__ == '__main__':
    sys.exit(main())
