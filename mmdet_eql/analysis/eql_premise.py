"""Does EQL's premise hold on my data? Reads a run's gradient-ratio report and prints, per
frequency group, how much of the classes' discouraging (negative) gradient EQL at a given lambda
would remove.

    python tools/analysis_tools/eql_premise.py work_dirs/RUN/*/grad_ratio.json --lambda 0.0011

The report is GradientRatioMonitorHook's ``grad_ratio.json`` of a run of the like-for-like
baseline (a short training on any LVIS-format data is enough; add
``custom_hooks = [dict(type='GradientRatioMonitorHook')]``). EQL drops, for a protected class
(f_j < lambda), the negative gradient that foreground RoIs of other classes give it; what
background RoIs give it stays. So per class the removable share is neg_other_classes / neg for a
protected class and 0 otherwise; per group the tool prints the protected classes, the mean share
from background RoIs, and the mean share EQL would remove (over all the group's classes, and over
its protected ones), and writes them as JSON with --out.
"""
import argparse
import json
import sys
from typing import Dict, List

import numpy as np

GROUPS = (('r', 'rare'), ('c', 'common'), ('f', 'frequent'))


def premise_table(categories: List[dict], lambda_: float) -> Dict[str, dict]:
    """Per frequency group: classes, protected classes, mean background share, mean share of the
    negative gradient EQL at ``lambda_`` would remove (all classes; protected ones)."""
    out = {}
    for g, _ in GROUPS:
        cats = [c for c in categories if c.get('frequency') == g and c['neg_grad'] > 0]
        if not cats:
            continue
        neg = np.array([c['neg_grad'] for c in cats])
        other = np.array([c['neg_grad_other_classes'] for c in cats])
        protected = np.array([c['freq'] < lambda_ for c in cats])
        removable = np.where(protected, other / neg, 0.0)
        out[g] = dict(
            classes=len(cats),
            protected=int(protected.sum()),
            background_share=float(np.mean(1 - other / neg)),
            removed_share=float(removable.mean()),
            removed_share_of_protected=float(removable[protected].mean())
            if protected.any() else None)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('report', help="GradientRatioMonitorHook's grad_ratio.json")
    parser.add_argument(
        '--lambda',
        dest='lambda_',
        type=float,
        required=True,
        help="EQL's threshold: classes with f_j < lambda are protected")
    parser.add_argument('--out', help='write the table as JSON')
    args = parser.parse_args(argv)
    if not args.lambda_ >= 0:
        raise SystemExit(f'error: --lambda must be a number >= 0, got {args.lambda_}')
    try:
        with open(args.report) as f:
            rep = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f'error: {args.report}: not a readable JSON report ({e})')
    cats = rep.get('categories') if isinstance(rep, dict) else None
    need = ('neg_grad', 'neg_grad_other_classes', 'freq', 'frequency')
    if not cats or any(k not in cats[0] for k in need):
        missing = [k for k in need if not cats or k not in cats[0]]
        raise SystemExit(
            f'error: {args.report} lacks {", ".join(missing)} per category: it needs the '
            "report of GradientRatioMonitorHook (since it splits the negative gradient by "
            'source) with class frequencies')
    table = premise_table(cats, args.lambda_)
    print(f'{args.report}: what EQL with lambda={args.lambda_:g} would remove of each group\'s '
          'negative gradient (the part from other classes\' foreground RoIs, for protected '
          'classes; background RoIs keep pushing)')
    print('\n| group | classes | protected | from background | EQL removes (all) | '
          'EQL removes (protected) |')
    print('| --- | --- | --- | --- | --- | --- |')
    for g, name in GROUPS:
        if g in table:
            t = table[g]
            prot = '-' if t['removed_share_of_protected'] is None else \
                f"{t['removed_share_of_protected']:.3f}"
            print(f"| {name} | {t['classes']} | {t['protected']} | {t['background_share']:.3f} | "
                  f"{t['removed_share']:.3f} | {prot} |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(report=args.report, lambda_=args.lambda_, groups=table), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
