"""OpenMMLab's metadata: a metafile.yml per method folder and model-index.yml at the root, in
mmdet's format, as mim and the model-index package read them. Every leaf of a method folder is in
its metafile, every metafile names existing configs, and each quoted number is the one
configs/README.md gives on the leaf's row (so the two cannot drift apart)."""
import glob
import os.path as osp
import re

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: folders of leaves that are not a method's: the benchmark's (docs/benchmark.md) and the own-data
#: templates the leaf writer fills
NOT_METHODS = {'benchmark', 'own-data'}


def method_folders() -> list:
    return sorted(
        osp.basename(d) for d in glob.glob(osp.join(ROOT, 'configs', '*')) if osp.isdir(d)
        and osp.basename(d) not in NOT_METHODS and not osp.basename(d).startswith('_'))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_model_index_imports_every_method_folder():
    index = load(osp.join(ROOT, 'model-index.yml'))
    assert sorted(index['Import']) == [f'configs/{d}/metafile.yml' for d in method_folders()]


@pytest.mark.parametrize('folder', method_folders())
def test_metafile_lists_every_leaf_and_only_existing_configs(folder):
    meta = load(osp.join(ROOT, 'configs', folder, 'metafile.yml'))
    collections = {c['Name'] for c in meta['Collections']}
    listed = []
    for model in meta['Models']:
        assert model['In Collection'] in collections
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
        assert 'Weights' not in model  # none trained here (said in Metadata)
        assert model['Metadata']['Weights'].startswith('none')
        listed.append(model['Config'])
    leaves = sorted(
        osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', folder, '*.py')))
    assert sorted(listed) == leaves


def readme_rows() -> dict:
    """configs/README.md's table rows (and the paper's Table 1 rows) by the leaf they name."""
    text = open(osp.join(ROOT, 'configs', 'README.md')).read()
    return [line for line in text.splitlines() if line.startswith('|')]


@pytest.mark.parametrize('folder', method_folders())
def test_quoted_results_are_configs_readmes(folder):
    """Each quoted number of a metafile stands on a configs/README.md table row that names its
    leaf (and each such entry says where it is quoted from)."""
    meta = load(osp.join(ROOT, 'configs', folder, 'metafile.yml'))
    rows = readme_rows()
    for model in meta['Models']:
        if 'Results' not in model:
            continue
        assert model['Metadata'].get('Quoted From'), model['Name']
        name = osp.basename(model['Config'])
        mine = [r for r in rows if name in r]
        assert mine, f'{name}: no row of configs/README.md names it'
        for result in model['Results']:
            for metric, value in result['Metrics'].items():
                assert any(
                    re.search(rf'(?<![0-9.]){re.escape(str(value))}(?![0-9])', r)
                    for r in mine), (name, metric, value)


def test_model_index_reader_lists_the_leaves():
    """What mim search reads: the model-index package's loader over model-index.yml."""
    modelindex = pytest.importorskip('modelindex')
    from modelindex.load_model_index import load as load_index
    mi = load_index(osp.join(ROOT, 'model-index.yml'))
    names = {m.name for m in mi.models}
    assert 'mask-rcnn_r50_fpn_eql_sample1e-3-ms-1x_lvis-v1' in names
    assert 'cascade-mask-rcnn_r50_fpn_gol_sample1e-3-ms-1x_lvis-v1' in names
    eql = next(m for m in mi.models if m.name == 'mask-rcnn_r50-caffe_fpn_eql_random-paper-90k_'
               'lvis-v0.5')
    assert eql.results[0].metrics['mask AP'] == 22.8
    assert modelindex is not None
