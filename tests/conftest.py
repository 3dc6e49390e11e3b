"""Shared by the whole suite: running a command-line tool's ``main`` in this process.

A tool run as a subprocess pays the interpreter start and the imports of torch, mmengine, mmdet
and mmdet_eql (about 3.5 s on the project's 2-core CPU) before it does anything; its bad-input
checks take milliseconds. The tests of those checks call the tool's ``main(argv)`` in-process
through :func:`run_tool`, which returns what a subprocess run returns (exit code, stdout,
stderr); each tool keeps at least one test that runs it as a real subprocess.

The LVIS families' end-to-end runs start with the session and go on in the background while the
other tests run; their tests come last (:func:`pytest_collection_modifyitems`,
:func:`_background_runs`).

Also one tiny preset of the embedded benchmark for the whole session (:func:`tiny_data`): the
end-to-end tests only read it. And mmengine's lookup of an ``mmdet::`` model config (it reads
mmdet's model-index and 102 metafiles, about 0.37 s, for every config that names one) is
remembered for the session: a pure function of the installed mmdet, so the configs read are the
same; processes the tests start are not affected.

The background runs read configs in their thread while the tests read others in the main thread;
mmengine's package lookup (``is_installed`` reloads ``pkg_resources``, whose ``working_set`` is
``None`` until the reload ends) is not safe for that, so the suite makes its two lookups one at a
time (:func:`_serialise_package_lookups`). The project's own threads (the demo runner's parallel
runs) read their configs one at a time already (``mmdet_eql.utils.config_from_env``).
"""
import contextlib
import copy
import importlib
import io
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _remember_mmdet_config_lookup() -> None:
    import functools

    import mmengine.config.utils as cfg_utils
    if not hasattr(cfg_utils._get_cfg_metainfo, 'cache_info'):
        cached = functools.lru_cache(maxsize=None)(cfg_utils._get_cfg_metainfo)
        cfg_utils._get_cfg_metainfo = lambda package_path, cfg_path: copy.deepcopy(
            cached(package_path, cfg_path))
        cfg_utils._get_cfg_metainfo.cache_info = cached.cache_info


_remember_mmdet_config_lookup()


def _serialise_package_lookups() -> None:
    import threading

    import mmengine.config.config as cfg_module
    import mmengine.utils as utils
    import mmengine.utils.package_utils as package_utils
    lock = threading.RLock()
    for name in ('is_installed', 'get_installed_path'):
        original = getattr(package_utils, name)
        if getattr(original, 'serialised', False):
            continue

        def locked(*args, _original=original, **kwargs):
            with lock:
                return _original(*args, **kwargs)

        locked.serialised = True
        for module in (package_utils, utils, cfg_module):
            if getattr(module, name, None) is original:
                setattr(module, name, locked)


_serialise_package_lookups()


def run_tool_in_process(module: str, *argv) -> subprocess.CompletedProcess:
    """A tool's command line ``argv`` run as its package module's ``main(argv)`` in this process
    (``module``: e.g. 'mmdet_eql.analysis.eval_lvis', what ``tools/analysis_tools/eval_lvis.py``
    calls)."""
    main = importlib.import_module(module).main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse errors, and tools that exit with a message
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code, file=sys.stderr)
    return subprocess.CompletedProcess([module, *argv], code or 0, out.getvalue(), err.getvalue())


def _background_modules(items) -> list:
    """The test modules that run their end-to-end work in the background (they define
    ``start_background_runs``), in the order of their first test."""
    out = []
    for item in items:
        module = getattr(item, 'module', None)
        if module is not None and hasattr(module, 'start_background_runs') and module not in out:
            out.append(module)
    return out


def pytest_collection_modifyitems(session, config, items):
    """The tests of background modules go last: their runs start with the session (below) and go
    on while every other test runs; by the time their tests come they are done or nearly so."""
    modules = _background_modules(items)
    if modules:
        items[:] = ([i for i in items if getattr(i, 'module', None) not in modules] +
                    [i for i in items if getattr(i, 'module', None) in modules])


@pytest.fixture(scope='session', autouse=True)
def _background_runs(request, tmp_path_factory):
    """Starts the background modules' runs when the session starts (one run at a time beside
    the other tests; as many as the module sets when its tests are all the session has). The
    LVIS families' runs are mostly one-threaded (imports, building a 1203-class model, saving
    it) and the unit tests use about one of this machine's two cores, so the two overlap."""
    items = request.session.items
    modules = _background_modules(items)
    for module in modules:
        alone = all(getattr(i, 'module', None) in modules for i in items)
        module.start_background_runs(tmp_path_factory, alone=alone, items=items, request=request)
    yield
    for module in modules[:1]:  # one pool for them all (tests/test_e2e/e2e_utils.py)
        module.stop_background_runs()


@pytest.fixture
def run_tool():
    return run_tool_in_process


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> str:
    """The tiny preset (tools/benchmark/make_dataset.py --preset tiny), generated once per
    session in this process, as a data root ending in '/'. Tests must not write into it."""
    root = tmp_path_factory.mktemp('longtail_tiny')
    res = run_tool_in_process('mmdet_eql.benchmark.synthetic.cli', str(root), '--preset', 'tiny',
                              '--quiet', '--overwrite')
    assert res.returncode == 0, res.stderr
    return str(root) + '/'


#: the pre-training options of the session's tiny checkpoint (:func:`tiny_pretrained`)
TINY_PRETRAIN = dict(images_per_class=2, val_per_class=1, epochs=2, seed=0)


@pytest.fixture(scope='session')
def tiny_pretrained(tmp_path_factory) -> str:
    """A pre-trained backbone made once per session by tools/benchmark/pretrain_backbone.py's
    ``pretrain`` (the set, tools/train.py in a subprocess, the checkpoint and its record) with
    TINY_PRETRAIN's options; its folder. Tests copy it before changing anything in it."""
    out = tmp_path_factory.mktemp('pretrain')
    from mmdet_eql.benchmark import pretrain
    pretrain.pretrain(str(out), TINY_PRETRAIN, threads=1, progress=False)
    return str(out)
