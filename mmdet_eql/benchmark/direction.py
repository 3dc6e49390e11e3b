"""The embedded benchmark against the published tables: one row per published comparison, the
published change beside the measured one, agree / disagree / within noise.

    python tools/benchmark/direction_table.py work_dirs/longtail_steep_pretrained/results.json
        [--measure scaled|standard] [--rows published|ablations] [--markdown out.md]

Reads the results.json that tools/benchmark/run.py writes. The rule, fixed before any run
of the pre-trained regime (docs/benchmark.md, "Does it reproduce the published record?"):

* the measure is the box AP on the LVIS-like val under the per-image detection budget scaled to
  LVIS v1 val's proportions (300 an image over 1203 classes; ``--measure standard``: the model's
  own budget, reported beside it): the published numbers were measured where that budget binds;
* the measured change is the difference of the two methods' means over their seeds; its spread is
  sqrt(sd_a^2 + sd_b^2) of the two sample standard deviations (no spread with one seed);
* a published change of less than 0.5 AP in size counts as "no change": the cell agrees when the
  measured change is within its spread, disagrees otherwise; any other published change: "within
  noise" when the measured change is within its spread, "agree" when it has the published sign,
  "disagree" when it has the other.

``--rows ablations``: the same rule over the EQL paper's own ablations (lambda by tail ratio,
Table 2; E(r), Table 4), each step of the paper's table against the benchmark's leaf of the same
setting (issue 23).

The published numbers are quoted (mask AP; the sources are named in each row and in
docs/references.md); the benchmark's are box AP.
"""
import argparse
import json
import math
import sys
from typing import Dict, List, Optional, Tuple

KEYS = ('AP', 'APr', 'APc', 'APf')
#: the quoted numbers, mask AP / APr / APc / APf, each once, keyed by the benchmark's leaf of the
#: same setting (docs/references.md). The EQL paper, LVIS v0.5, Mask R-CNN R-50:
EQL_PAPER = {
    'sigmoid': (20.1, 7.2, 19.9, 25.4),  # lambda 0 (Tables 1 and 2)
    'eql': (22.8, 11.3, 24.7, 25.1),  # Table 1's EQL, lambda 1.76e-3: Table 2's 9.1 % row
    'eql-rare': (20.8, 11.7, 20.2, 25.2),  # Table 2, rare only (tail ratio 0.93 %)
    'eql-tr3': (22.0, 11.2, 22.8, 25.2),  # Table 2, tail ratio 3.1 %
    'eql-tr18': (22.4, 10.0, 23.6, 25.7),  # Table 2, tail ratio 18.2 %
    'eql-noer': (22.2, 12.5, 24.7, 23.1),  # Table 4, without E(r)
    'softmax': (20.2, 4.5, 20.8, 25.6),  # Table 5
    'rfs': (21.3, 12.2, 21.5, 24.7),  # Table 5, repeat factor sampling
}
EQL_PAPER['eql-tr9'] = EQL_PAPER['eql']
#: the EQLv2 README, LVIS v1, Mask R-CNN R50 1x (its baseline: mmdet's softmax head)
EQLV2_README = {
    'softmax': (16.1, 0.0, 12.0, 27.4),
    'eql': (18.6, 2.1, 17.4, 27.2),
    'rfs': (22.2, 11.5, 21.2, 28.0),
    'eqlv2': (23.7, 14.9, 22.8, 28.6),
}
#: the EQL README, LVIS v0.5 (EQL and EQL + resampling; no resampling-alone row)
EQL_README = {'eql': (24.0, 9.4, 25.2, 28.4), 'eql-rfs': (26.1, 17.2, 27.3, 28.2)}

#: the GOL README's activation comparison, LVIS v1, Mask R-CNN R50 1x (sigmoid, softmax and the
#: Gumbel activation; the benchmark's leaves of the same settings: sigmoid, softmax, gumbel)
GOL_README = {
    'sigmoid': (16.4, 0.8, 12.7, 27.3),
    'softmax': (15.2, 0.0, 10.6, 26.9),
    'gumbel': (19.0, 4.9, 16.8, 27.6),
}
# ECM: no quoted number was found (docs/references.md), so no row

Row = Tuple[str, str, str, Tuple[float, ...], Tuple[float, ...]]


def _rows(comparisons: List[Tuple[str, str, dict, str]]) -> List[Row]:
    """(method, baseline, source, the method's quoted numbers, the baseline's) per comparison
    (method, baseline, the quoted numbers of its source, the source)."""
    return [(m, b, source, quoted[m], quoted[b]) for m, b, quoted, source in comparisons]


#: the published comparisons between methods
PUBLISHED: List[Row] = _rows([
    ('eql', 'sigmoid', EQL_PAPER, 'EQL paper Table 1, LVIS v0.5, R-50 (over its sigmoid baseline)'),
    ('eql', 'softmax', EQLV2_README, 'EQLv2 README, LVIS v1, R50 1x (over its softmax baseline)'),
    ('eql-rare', 'sigmoid', EQL_PAPER, 'EQL paper Table 2, LVIS v0.5 (lambda over rare only)'),
    ('softmax', 'sigmoid', EQL_PAPER, 'EQL paper Tables 5 and 1, LVIS v0.5'),
    ('rfs', 'sigmoid', EQL_PAPER, 'EQL paper Tables 5 and 1, LVIS v0.5 (repeat factor sampling)'),
    ('rfs', 'softmax', EQLV2_README,
     'EQLv2 README, LVIS v1, R50 1x (RFS over its softmax baseline)'),
    ('eql-rfs', 'eql', EQL_README, 'EQL README, LVIS v0.5 (EQL + resampling over EQL)'),
    ('eqlv2', 'softmax', EQLV2_README, 'EQLv2 README, LVIS v1, R50 1x (over its softmax baseline)'),
    ('gumbel', 'sigmoid', GOL_README, 'GOL README, LVIS v1, R50 1x (Gumbel over sigmoid)'),
    ('gumbel', 'softmax', GOL_README, 'GOL README, LVIS v1, R50 1x (Gumbel over softmax)'),
])
#: the EQL paper's ablations (issue 23): lambda by tail ratio (its Table 2; the benchmark's
#: leaves set lambda so that the protected classes hold about the same share of the train
#: instances) and E(r) (its Table 4)
ABLATIONS: List[Row] = _rows([
    ('eql-rare', 'sigmoid', EQL_PAPER,
     'EQL paper Table 2: rare only (tail ratio 0.93 %) over lambda 0'),
    ('eql-tr3', 'sigmoid', EQL_PAPER, 'EQL paper Table 2: tail ratio 3.1 % over lambda 0'),
    ('eql-tr9', 'sigmoid', EQL_PAPER, 'EQL paper Table 2: tail ratio 9.1 % over lambda 0'),
    ('eql-tr18', 'sigmoid', EQL_PAPER, 'EQL paper Table 2: tail ratio 18.2 % over lambda 0'),
    ('eql-tr3', 'eql-rare', EQL_PAPER, 'EQL paper Table 2: tail ratio 3.1 % over rare only'),
    ('eql-tr9', 'eql-tr3', EQL_PAPER, 'EQL paper Table 2: tail ratio 9.1 % over 3.1 %'),
    ('eql-tr18', 'eql-tr9', EQL_PAPER, 'EQL paper Table 2: tail ratio 18.2 % over 9.1 %'),
    ('eql-noer', 'eql', EQL_PAPER,
     'EQL paper Table 4: without E(r) (background RoIs protect too) over EQL'),
])
ROWS = dict(published=PUBLISHED, ablations=ABLATIONS)
NO_CHANGE = 0.5  # AP points: a published change smaller than this is "no change"


def verdict(published: float, measured: float, spread: float) -> str:
    within = abs(measured) <= spread
    if abs(published) < NO_CHANGE:
        return 'agree' if within else 'disagree'
    if within:
        return 'within noise'
    return 'agree' if (measured > 0) == (published > 0) else 'disagree'


def summary(results: dict, method: str, measure: str) -> Optional[Dict[str, List[float]]]:
    """{key: [value in % per seed]} of a method, None when it has no runs."""
    runs = results.get(method) or {}
    if not runs:
        return None
    out = {k: [] for k in KEYS}
    for run in runs.values():
        src = run['protocols']['standard_scaled'] if measure == 'scaled' else run['bbox/lvis']
        for k in KEYS:
            out[k].append(100 * float(src[k]))
    return out


def mean_sd(values: List[float]) -> Tuple[float, float]:
    n = len(values)
    mu = sum(values) / n
    sd = math.sqrt(sum((v - mu)**2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mu, sd


def table(results: dict,
          measure: str = 'scaled',
          rows: str = 'published') -> Tuple[str, Dict[str, int]]:
    """(markdown, counts of agree / disagree / within noise / missing cells) over the rows of
    ``ROWS[rows]``: the published comparisons, or the paper's ablations."""
    counts = {'agree': 0, 'disagree': 0, 'within noise': 0}
    lines = [
        '| comparison | source (quoted) | ' + ' | '.join(f'{k}: published / measured'
                                                         for k in KEYS) + ' |',
        '|' + ' --- |' * (2 + len(KEYS))
    ]
    missing = []
    for method, base, source, pub, pub_base in ROWS[rows]:
        a, b = summary(results, method, measure), summary(results, base, measure)
        if a is None or b is None:
            missing.append(f'{method} vs {base}')
            continue
        cells = []
        for i, k in enumerate(KEYS):
            (ma, sa), (mb, sb) = mean_sd(a[k]), mean_sd(b[k])
            d, spread = ma - mb, math.sqrt(sa**2 + sb**2)
            v = verdict(pub[i] - pub_base[i], d, spread)
            counts[v] += 1
            cells.append(f'{pub[i] - pub_base[i]:+.1f} / {d:+.1f} ± {spread:.1f}: {v}')
        lines.append(f'| {method} vs {base} | {source} | ' + ' | '.join(cells) + ' |')
    if missing:
        lines += ['', 'Not measured (no runs): ' + ', '.join(missing)]
    counts['comparisons'] = len(ROWS[rows]) - len(missing)
    return '\n'.join(lines), counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('results', help="the benchmark runner's results.json")
    parser.add_argument(
        '--measure',
        choices=('scaled', 'standard'),
        default='scaled',
        help='scaled: the per-image budget scaled to LVIS (default); standard: the model\'s own')
    parser.add_argument(
        '--rows',
        choices=tuple(ROWS),
        default='published',
        help='published: the published comparisons between methods (default); ablations: the '
        'EQL paper\'s lambda (Table 2) and E(r) (Table 4) ablations')
    parser.add_argument('--markdown', help='also write the table to this file')
    args = parser.parse_args(argv)
    try:
        with open(args.results) as f:
            data = json.load(f)
        results = data['results']
        for m, runs in results.items():
            for s, run in runs.items():
                if args.measure == 'scaled' and 'standard_scaled' not in run.get('protocols', {}):
                    raise KeyError(f'{m} seed {s}: protocols.standard_scaled')
                if 'bbox/lvis' not in run:
                    raise KeyError(f'{m} seed {s}: bbox/lvis')
    except FileNotFoundError:
        raise SystemExit(f'error: {args.results} does not exist')
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SystemExit(f'error: {args.results} is not JSON ({e})')
    except (KeyError, TypeError, AttributeError) as e:
        raise SystemExit(f'error: {args.results} is not a results.json of the benchmark runner '
                         f'(tools/benchmark/run.py) (missing {e})')
    text, counts = table(results, args.measure, args.rows)
    what = ('box AP, per-image budget scaled to LVIS'
            if args.measure == 'scaled' else 'box AP, the model\'s own budget')
    kind = 'Direction table' if args.rows == 'published' else 'Ablation table'
    # the regime since 2026-11-30 (results.json files of before hold the preset only)
    regime = {'scratch': ' from scratch', 'pretrained': ' pre-trained'}.get(data.get('regime'), '')
    head = (f'{kind}, {data.get("preset", "?")}{regime} ({what}); published: quoted mask AP. '
            f'Cells: {counts["agree"]} agree, {counts["disagree"]} disagree, '
            f'{counts["within noise"]} within noise, over {counts["comparisons"]} comparisons.')
    print(head + '\n\n' + text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(head + '\n\n' + text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
