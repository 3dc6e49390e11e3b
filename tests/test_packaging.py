"""What `pip install -e .` (or `mim install -e .`) into an existing OpenMMLab environment gets:
the package's metadata (what it requires beyond the stack, never torch / mmcv / mmengine / mmdet),
and a non-editable install without dependencies that imports and registers everything beside the
environment's own stack, with its shipped data files. Offline: built from this checkout."""
import os.path as osp
import re
import subprocess
import sys
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STACK = {'torch', 'torchvision', 'mmcv', 'mmcv-full', 'mmengine', 'mmdet'}


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """``pip install --no-deps --no-build-isolation --target DIR .``: the wheel pip builds from
    this checkout, unpacked into DIR (no network, the environment untouched)."""
    target = tmp_path_factory.mktemp('site')
    res = subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index',
        '--disable-pip-version-check', '-q', '--target',
        str(target), ROOT
    ],
                         capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return target


def metadata(target) -> dict:
    dist = next(p for p in target.iterdir() if p.name.startswith('mmdet_eql-'))
    text = (dist / 'METADATA').read_text()
    return dict(
        version=re.search(r'^Version: (.+)$', text, re.M).group(1),
        license=re.search(r'^License: (.+)$', text, re.M).group(1),
        requires=[Requirement(r) for r in re.findall(r'^Requires-Dist: (.+)$', text, re.M)],
        files=[p.name for p in dist.iterdir()] + [p.name for p in (dist / 'licenses').iterdir()] if
        (dist / 'licenses').is_dir() else [p.name for p in dist.iterdir()])


def test_requirements_leave_the_stack_alone_and_hold_the_tested_versions(installed):
    meta = metadata(installed)
    names = {r.name.lower() for r in meta['requires']}
    assert names and not names & STACK, names
    assert {'lvis', 'faster-coco-eval', 'numpy'} <= names
    for req in meta['requires']:  # each range holds what tools/setup_env.sh installs
        assert req.specifier.contains(
            version(req.name), prereleases=True), (str(req), version(req.name))


def test_version_license_and_changelog_agree(installed):
    import mmdet_eql
    meta = metadata(installed)
    assert meta['version'] == mmdet_eql.__version__
    assert meta['license'] == 'Apache-2.0' and 'LICENSE' in meta['files']
    assert 'Apache License' in open(osp.join(ROOT, 'LICENSE')).read()
    changelog = open(osp.join(ROOT, 'CHANGELOG.md')).read()
    released = re.findall(r'^## (\d+\.\d+\.\d+) \(\d{4}-\d{2}-\d{2}\)$', changelog, re.M)
    assert released and released[0] == mmdet_eql.__version__, released


def test_install_without_dependencies_imports_and_registers_beside_the_stack(installed):
    code = f"""
import sys
sys.path.insert(0, {str(installed)!r})
import mmdet_eql
assert mmdet_eql.__file__.startswith({str(installed)!r}), mmdet_eql.__file__
from mmdet.registry import DATASETS, HOOKS, METRICS, MODELS
for name in ('EQLLoss', 'EqualizationLossV2', 'FederatedLoss', 'SoftmaxEQLLoss',
             'EffectiveClassMarginLoss', 'GumbelOptimizedLoss', 'EqualizedFocalLoss',
             'FreqAwareShared2FCBBoxHead', 'FreqAwareBBoxHead', 'FreqAwareCascadeRoIHead'):
    assert MODELS.get(name) is not None, name
assert METRICS.get('FastLVISMetric') and METRICS.get('OpenImagesGroupMetric')
assert DATASETS.get('CheckedOpenImagesDataset') and HOOKS.get('ClassFreqCheckHook')
from mmdet_eql.utils.class_frequency import load_preset
assert len(load_preset('lvis_v1')) == 1203  # the shipped statistics came with the install
print('ok')
"""
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd='/')
    assert res.returncode == 0 and res.stdout.strip().endswith('ok'), res.stderr[-3000:]
