"""The benchmark's methods and regimes: a method is its leaf config, nothing else.

Every file of ``configs/benchmark/*.py`` is one method's leaf and states
``benchmark = dict(method=..., label=...)`` in its own text; the runners, the tests and the tables
find the methods here (:func:`discover_methods`), so a new method is one new leaf and no list is
edited. A regime is applied to a leaf at run time (:func:`load_config`):

* ``scratch``: the leaf as it is (the backbone from scratch, 64 RoIs an image, 100 detections an
  image at test);
* ``pretrained``: the leaf with ``configs/benchmark/regimes/pretrained.py`` as a second base (the
  backbone pre-trained on a generated set with other labels, the paper's RoI and detection budgets
  where affordable); defined for the two-stage (Mask R-CNN) leaves.
"""
import ast
import functools
import glob
import os.path as osp
import tempfile
from typing import Dict, Optional, Tuple

from mmdet_eql.utils.paths import repo_path

CONFIG_DIR = repo_path('configs', 'benchmark')
#: regime -> (its base file applied to the leaf, or None; the detectors it is defined for, the
#: leaf name's first field in mmdet's naming, or None for all)
REGIMES = {
    'scratch': (None, None),
    'pretrained': (osp.join(CONFIG_DIR, 'regimes', 'pretrained.py'), ('mask-rcnn', )),
}
#: what a regime's base gives the leaf (the names its base defines for that purpose)
_REGIME_KEYS = {
    'pretrained':
    'model = {{_base_.pretrained_two_stage}}\noptim_wrapper = {{_base_.pretrained_optim_wrapper}}\n'
}


def stated_benchmark(path: str) -> Optional[dict]:
    """The ``benchmark = dict(method=..., label=...)`` a config file states at its top level, read
    from its text (literal keyword values), without resolving its bases: resolving every leaf's
    ``mmdet::`` bases took about 5 s."""
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'benchmark' for t in node.targets):
            call = node.value
            try:
                if isinstance(call, ast.Call) and isinstance(call.func,
                                                             ast.Name) and call.func.id == 'dict':
                    return {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                if isinstance(call, ast.Dict):
                    return ast.literal_eval(call)
            except ValueError:
                return None
    return None


@functools.lru_cache(maxsize=None)
def discover_methods(pattern: str = osp.join(CONFIG_DIR, '*.py')) -> Dict[str, Tuple[str, str]]:
    """{method: (leaf path, label)} from the ``benchmark = dict(method=..., label=...)`` that
    every config matching the glob ``pattern`` (default: configs/benchmark/*.py) states in its
    own text (read once per process)."""
    out = {}
    for path in sorted(glob.glob(pattern)):
        bench = stated_benchmark(path)
        if not bench or 'method' not in bench or 'label' not in bench:
            raise SystemExit(f'error: {path} states no benchmark = dict(method=..., label=...) '
                             'with literal values')
        if bench['method'] in out:
            raise SystemExit(f'error: {path} and {out[bench["method"]][0]} both state method '
                             f'{bench["method"]!r}')
        out[bench['method']] = (path, bench['label'])
    return out


def regime_methods(regime: str) -> Dict[str, Tuple[str, str]]:
    """The methods a regime is defined for: every leaf, or those of the regime's detectors."""
    if regime not in REGIMES:
        raise ValueError(f'unknown regime {regime!r}; known: {sorted(REGIMES)}')
    detectors = REGIMES[regime][1]
    return {
        m: v
        for m, v in discover_methods().items()
        if detectors is None or osp.basename(v[0]).split('_')[0] in detectors
    }


def label(method: str) -> str:
    """The method's label in tables and plots (its leaf's ``benchmark.label``)."""
    methods = discover_methods()
    return methods[method][1] if method in methods else method


def load_config(leaf: str, regime: str, env: Optional[dict] = None):
    """The leaf as the regime runs it, read with the environment variables ``env`` set
    (:func:`mmdet_eql.utils.run_config.config_from_env`): the leaf itself, or the leaf with the
    regime's base beside it, written as a two-line child config in a temporary folder."""
    from mmdet_eql.utils.run_config import config_from_env
    if regime not in REGIMES:
        raise ValueError(f'unknown regime {regime!r}; known: {sorted(REGIMES)}')
    base = REGIMES[regime][0]
    if base is None:
        return config_from_env(leaf, env or {})
    with tempfile.TemporaryDirectory() as tmp:
        child = osp.join(tmp, osp.basename(leaf))
        with open(child, 'w') as f:
            f.write(f'_base_ = [{osp.abspath(leaf)!r}, {base!r}]\n' + _REGIME_KEYS[regime])
        return config_from_env(child, env or {})


__all__ = [
    'CONFIG_DIR', 'REGIMES', 'stated_benchmark', 'discover_methods', 'regime_methods', 'label',
    'load_config'
]
