"""The own-data path of docs/own_data.md, end to end on generated COCO-format data: category ids
with gaps, listed out of id order, no LVIS fields. The leaf writer (frequencies, lambda choices,
the leaf), two iterations through tools/train.py with the gradient-ratio monitor added the way the
page says, tools/test.py with mmdet's COCO metric, and eval_lvis.py with the user's own frequency
groups (and its error without them)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from e2e_utils import background_runs, stop_background_runs  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: what the test changes of the written leaf for this CPU (tiny 96 px images): the scale of the
#: resizes and no dataloader workers, given on the command line
SMALL = [
    'train_dataloader.dataset.pipeline.2.scale=(128,128)',
    'val_dataloader.dataset.pipeline.1.scale=(128,128)',
    'test_dataloader.dataset.pipeline.1.scale=(128,128)', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False'
]


def coco_format(src: str, dst: str) -> dict:
    """The generated tiny set as a user's COCO-format data: ids 3k + 2 (gaps), categories listed
    in reverse id order, only COCO's fields; images linked. Returns {old id: new id}."""
    os.makedirs(osp.join(dst, 'annotations'))
    ids = {}
    for name, out, split in (('train.json', 'train.json', 'train'), ('val_strict.json', 'val.json',
                                                                     'val')):
        with open(osp.join(src, 'annotations', name)) as f:
            d = json.load(f)
        ids = {c['id']: 3 * c['id'] + 2 for c in d['categories']}
        out_d = dict(
            images=[
                dict(
                    id=im['id'],
                    file_name=osp.basename(im['file_name']),
                    width=im['width'],
                    height=im['height']) for im in d['images']
            ],
            annotations=[
                dict(a, category_id=ids[a['category_id']], iscrowd=0) for a in d['annotations']
            ],
            categories=[dict(id=ids[c['id']], name=c['name']) for c in reversed(d['categories'])])
        with open(osp.join(dst, 'annotations', out), 'w') as f:
            json.dump(out_d, f)
        os.symlink(osp.join(src, split), osp.join(dst, split))
    return ids


def run(args, env):
    res = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env)
    return res


def train_and_test(r: dict, config: str, tmp) -> dict:
    """Two iterations of ``config`` through tools/train.py (the stand-in ImageNet file, one
    thread, SMALL), then tools/test.py of the leaf ``r['leaf']`` on the checkpoint keeping the
    predictions (score threshold 0: a head trained two iterations scores every box below mmdet's
    0.05); the results into ``r``."""
    from lvis_fixture import fake_imagenet_cache
    home = str(tmp / 'torch_home')
    fake_imagenet_cache(home)
    env = dict(os.environ, TORCH_HOME=home, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    r['train'] = run([
        'tools/train.py', config, '--work-dir', r['wd'], '--max-iters', '2', '--cfg-options',
        *SMALL, 'train_cfg.val_begin=3'
    ], env)
    r['test'] = run([
        'tools/test.py', r['leaf'],
        osp.join(r['wd'],
                 'iter_2.pth'), '--out', r['preds'], '--work-dir', r['wd'], '--cfg-options', *SMALL,
        'model.test_cfg.rcnn.score_thr=0.0', 'model.test_cfg.rcnn.max_per_img=20'
    ], env)
    return r


def own_coco_run(tiny_data: str, tmp) -> dict:
    """The mask path's runs (a background job): the user's data, the leaf written by the
    command line, two iterations through tools/train.py with the gradient-ratio monitor added the
    way the page says, tools/test.py keeping the predictions."""
    r = dict(
        data=str(tmp / 'data'),
        leaf=str(tmp / 'configs' / 'my_leaf.py'),
        wd=str(tmp / 'work'),
        preds=str(tmp / 'preds.pkl'))
    coco_format(tiny_data, r['data'])
    r['leaf_run'] = run(['tools/misc/own_data_leaf.py', r['data'], '--out', r['leaf']], os.environ)
    if r['leaf_run'].returncode:
        return r
    child = tmp / 'configs' / 'my_leaf_monitor.py'
    child.write_text("_base_ = './my_leaf.py'\ncustom_hooks = [dict(type='ClassFreqCheckHook'), "
                     "dict(type='RNGStateHook'), dict(type='GradientRatioMonitorHook', "
                     'interval=1)]\n')
    return train_and_test(r, str(child), tmp)


@pytest.mark.slow
def test_own_coco_format_data_from_frequencies_to_evaluation(own_data_runs, tmp_path, run_tool):
    r = own_data_runs['own-data:coco'].result()
    data, leaf, wd, preds = r['data'], r['leaf'], r['wd'], r['preds']
    # 1. frequencies -> lambda -> leaf
    res = r['leaf_run']
    assert res.returncode == 0, res.stderr
    assert "tail ratio 9.1 % (the paper's): lambda" in res.stdout
    assert "loss_cls=dict(type='EQLLoss', lambda_=None, tail_ratio=0.091)" in res.stdout
    freq = json.load(open(osp.join(data, 'annotations', 'class_freq.json')))
    text = open(leaf).read()
    names = tuple(c['name'] for c in sorted(freq['categories'], key=lambda c: c['id']))
    assert f'classes = {names!r}' in text  # in the order of the ids, not of the file
    assert 'lambda_choice = dict(lambda_=None, tail_ratio=0.091)' in text
    # the file lists its categories out of id order: the leaf reads a copy in id order (mmdet
    # numbers labels in file order, the frequencies are by id)
    assert "train_ann_file = 'annotations/train.by-id.json'" in text
    # lambda by group: the rare + common one is written as a number; the rare group of this set is
    # empty by share of instances, which is said, not written
    other = str(tmp_path / 'by_group.py')
    res = run_tool('mmdet_eql.analysis.own_data', data, '--out', other, '--lambda', 'rare+common')
    assert res.returncode == 0 and 'lambda_choice = dict(lambda_=0.05, tail_ratio=None)' in open(
        other).read(), res.stderr
    res = run_tool('mmdet_eql.analysis.own_data', data, '--out', other, '--lambda', 'rare')
    assert res.returncode != 0 and 'no lambda protects exactly the rare group' in res.stderr
    # 2. train, the monitor added as the page says (the project's hooks listed again)
    log = r['train'].stdout + r['train'].stderr
    assert r['train'].returncode == 0, log[-3000:]
    assert 'custom_hooks lacks' not in log
    assert 'EQLLoss: tail_ratio=0.091 -> the protected classes hold' in log
    assert 'match the train dataset\'s 16 class names' in log  # ClassFreqCheckHook
    assert any(f.endswith('grad_ratio.json') for _, _, fs in os.walk(wd) for f in fs)
    # 3. test with mmdet's COCO metric, keeping the predictions
    res = r['test']
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert 'coco/bbox_mAP:' in res.stdout + res.stderr
    # 4. APr / APc / APf by the user's own groups: an error that says how, then the table
    # the predictions number labels in the order of the file the model was tested on: the
    # original file, out of id order, is refused rather than evaluated with the labels shifted
    res = run_tool('mmdet_eql.analysis.eval_lvis', osp.join(data, 'annotations', 'val.json'), preds,
                   '--class-freq', osp.join(data, 'annotations', 'class_freq.json'))
    assert res.returncode != 0 and 'out of id order' in res.stderr, res.stderr
    gt = osp.join(data, 'annotations', 'val.by-id.json')
    res = run_tool('mmdet_eql.analysis.eval_lvis', gt, preds)
    assert res.returncode != 0 and '--class-freq FREQ.json' in res.stderr, res.stderr
    assert 'Traceback' not in res.stderr
    res = run_tool('mmdet_eql.analysis.eval_lvis', gt, preds, '--class-freq',
                   osp.join(data, 'annotations', 'class_freq.json'))
    assert res.returncode == 0, res.stderr
    assert 'taken as exhaustively labelled' in res.stdout and 'APr' in res.stdout


def voc_format(src: str, dst: str) -> None:
    """The generated tiny set as a user's Pascal VOC-style data: one XML a image (1-based
    inclusive corners, the first object of each image marked difficult), ImageSets/Main/{train,
    val}.txt, the images in JPEGImages/ (linked), no segmentation anywhere."""
    for sub in ('Annotations', osp.join('ImageSets', 'Main'), 'JPEGImages'):
        os.makedirs(osp.join(dst, sub))
    for name, split in (('train.json', 'train'), ('val_strict.json', 'val')):
        with open(osp.join(src, 'annotations', name)) as f:
            d = json.load(f)
        names = {c['id']: c['name'] for c in d['categories']}
        ids = []
        for im in d['images']:
            voc_id = f'{split}_{im["id"]}'
            file_name = f'{voc_id}.png'
            os.symlink(osp.join(src, im['file_name']), osp.join(dst, 'JPEGImages', file_name))
            objects = ''.join(
                f'<object><name>{names[a["category_id"]]}</name><difficult>{int(k == 0)}'
                f'</difficult><bndbox><xmin>{a["bbox"][0] + 1:g}</xmin><ymin>{a["bbox"][1] + 1:g}'
                f'</ymin><xmax>{a["bbox"][0] + a["bbox"][2]:g}</xmax><ymax>'
                f'{a["bbox"][1] + a["bbox"][3]:g}</ymax></bndbox></object>'
                for k, a in enumerate(x for x in d['annotations'] if x['image_id'] == im['id']))
            with open(osp.join(dst, 'Annotations', f'{voc_id}.xml'), 'w') as f:
                f.write(f'<annotation><filename>{file_name}</filename><size><width>{im["width"]}'
                        f'</width><height>{im["height"]}</height><depth>3</depth></size>'
                        f'{objects}</annotation>')
            ids.append(voc_id)
        with open(osp.join(dst, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')


def box_only_run(tiny_data: str, tmp) -> dict:
    """The box-only path's runs (a background job): VOC-style XML converted, the leaf written (and
    the Mask R-CNN one refused), two iterations through tools/train.py, tools/test.py."""
    voc = str(tmp / 'voc')
    r = dict(
        voc=voc,
        leaf=str(tmp / 'configs' / 'voc_leaf.py'),
        wd=str(tmp / 'work'),
        preds=str(tmp / 'preds.pkl'))
    voc_format(tiny_data, voc)
    r['convert'] = run(
        ['tools/misc/voc_to_coco.py', voc, '--out-dir',
         osp.join(voc, 'annotations')], os.environ)
    where = ['--train-images', 'JPEGImages/', '--val-images', 'JPEGImages/']
    r['mask_leaf'] = run(
        ['tools/misc/own_data_leaf.py', voc, '--out', r['leaf'], *where, '--detector', 'mask-rcnn'],
        os.environ)
    r['leaf_run'] = run(['tools/misc/own_data_leaf.py', voc, '--out', r['leaf'], *where],
                        os.environ)
    if r['convert'].returncode or r['leaf_run'].returncode:
        return r
    return train_and_test(r, r['leaf'], tmp)


@pytest.mark.slow
def test_box_only_voc_data_from_xml_to_evaluation(tiny_data, own_data_runs, run_tool):
    """Box-only data the way most own datasets come (VOC-style XML with its own classes):
    converted to COCO format, a Faster R-CNN leaf written for it (the Mask R-CNN one refused),
    two iterations through tools/train.py, tools/test.py, and eval_lvis.py with the user's groups,
    whose segm request still prints the bbox table and names the missing masks."""
    r = own_data_runs['own-data:box-only'].result()
    voc = r['voc']
    assert r['convert'].returncode == 0, r['convert'].stderr
    train = json.load(open(osp.join(voc, 'annotations', 'train.json')))
    src = json.load(open(osp.join(tiny_data, 'annotations', 'train.json')))
    assert len(train['annotations']) == len(src['annotations'])
    assert [c['name'] for c in train['categories']] == sorted(c['name'] for c in src['categories'])
    first = src['annotations'][0]  # VOC's 1-based corners back to the same COCO box, difficult
    assert train['annotations'][0]['bbox'] == pytest.approx(first['bbox'])
    assert train['annotations'][0]['iscrowd'] == 1
    assert not any('segmentation' in a for a in train['annotations'])
    res = r['mask_leaf']
    assert res.returncode == 2 and 'no annotation has a segmentation' in res.stderr, res.stderr
    res = r['leaf_run']
    assert res.returncode == 0, res.stderr
    assert 'boxes only, no segmentation: a Faster R-CNN leaf' in res.stdout
    # the writer offers a short run's settings, with the data's own image size
    assert 'a smoke run: python tools/train.py' in res.stdout
    assert 'model.test_cfg.rcnn.score_thr=0' in res.stdout
    assert "(median): train them at their size" in res.stdout
    assert "_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'" in open(r['leaf']).read()
    res = r['train']
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    res = r['test']
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert 'coco/bbox_mAP:' in res.stdout + res.stderr and 'segm' not in res.stdout
    res = run_tool('mmdet_eql.analysis.eval_lvis', osp.join(voc, 'annotations',
                                                            'val.json'), r['preds'], '--class-freq',
                   osp.join(voc, 'annotations', 'class_freq.json'), '--iou-type', 'bbox', 'segm')
    assert res.returncode == 2, res.stderr
    assert 'APr' in res.stdout and 'bbox: evaluated' in res.stdout  # the bbox table, printed
    assert 'segm not evaluated' in res.stderr and 'needs masks' in res.stderr


#: the background jobs of this module, by the test that needs each
JOBS = {
    'test_own_coco_format_data_from_frequencies_to_evaluation': ('own-data:coco', own_coco_run),
    'test_box_only_voc_data_from_xml_to_evaluation': ('own-data:box-only', box_only_run),
}


def start_background_runs(tmp_path_factory, alone: bool = True, items=None, request=None):
    """The selected tests' training and testing runs, submitted to the session's pool of
    end-to-end runs (e2e_utils.background_runs) when the session starts (tests/conftest.py)."""
    names = {
        i.originalname
        for i in items or () if getattr(i, 'module', None) is sys.modules[__name__]
    }
    bg = background_runs(2, alone)
    for test, (name, job) in JOBS.items():
        if test in names and name not in bg.futures:
            tiny = request.getfixturevalue('tiny_data')
            bg.submit(name, job, tiny, tmp_path_factory.mktemp(name.replace(':', '-')))


@pytest.fixture(scope='module')
def own_data_runs(tmp_path_factory, request):
    start_background_runs(tmp_path_factory, items=request.session.items, request=request)
    background_runs().open_all_slots()  # this module's tests come last: the others are done
    return background_runs().futures
