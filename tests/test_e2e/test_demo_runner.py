"""The README's main job, on the tiny preset with two iterations per model; and a runner that
cannot report the wrong run. EQL runs with repeat-factor sampling (the eql-rfs leaf: EQLLoss and
mmdet's ClassBalancedDataset in one training), first from scratch, then retrained in place in the
pre-trained regime (the session's tiny pre-trained checkpoint loaded through the leaf's init_cfg,
128 RoIs an image; 20 detections an image at test instead of the leaf's 300). A finished run is
reported from its eval.json once its detections are gone."""
import json
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NO_WORKERS = [
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False'
]

RUNNER = osp.join(ROOT, 'tools', 'benchmark', 'run.py')


def demo(tmp_path,
         *extra,
         data='data',
         iters='2',
         methods=('softmax', 'eql-rfs'),
         options=(),
         in_process=False):
    """The runner as a script; ``in_process``: its ``main`` in this process (tests/conftest.py),
    for the runs that train nothing (reports, refusals), which otherwise spend most of their
    time starting the interpreter."""
    argv = [
        '--preset', 'tiny', '--data-root',
        str(tmp_path / data), '--work-dir',
        str(tmp_path / 'wd'), '--max-iters', iters, '--methods', *methods, *extra, '--cfg-options',
        *NO_WORKERS, *options
    ]
    if in_process:
        from conftest import run_tool_in_process
        return run_tool_in_process('mmdet_eql.benchmark.detection', *argv)
    return subprocess.run([sys.executable, RUNNER, *argv], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, tiny_pretrained):
    wd = tmp_path / 'wd'
    # the two methods at once (--jobs 2: one thread each, a log file per run; the runner's main
    # in this process, its trainings and tests in their own); the sequential path (the runner's
    # default) is the --retrain run below, the runner as a script
    res = demo(tmp_path, '--jobs', '2', in_process=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'training softmax (seed 0)' in res.stdout and 'training eql-rfs (seed 0)' in res.stdout
    assert 'Saving checkpoint at 2 iterations' in (wd / 'eql-rfs_seed0' / 'run.log').read_text()
    # their progress, one bar read from their logs: 2 runs x 2 iterations
    bar = '[benchmark] 2 runs, 2 at a time: 100%'
    assert bar in res.stderr and '| 4/4 [' in res.stderr, res.stderr
    assert 'LVIS-like val (federated negatives):' in res.stdout
    assert '| EQL, rare+common + RFS |' in res.stdout
    assert '| rare | common | frequent |' in res.stdout  # the gradient-ratio monitor's table
    # and its split of the negative gradient by source
    assert 'Share of the negative gradient that comes from background RoIs' in res.stdout
    # EQL's premise read out of a real run's report (tools/analysis_tools/eql_premise.py)
    from conftest import run_tool_in_process
    (report, ) = (wd / 'softmax_seed0').glob('*/grad_ratio.json')
    premise = run_tool_in_process('mmdet_eql.analysis.eql_premise', str(report), '--lambda',
                                  '0.112')
    assert premise.returncode == 0, premise.stderr
    assert '| rare |' in premise.stdout and 'EQL removes (protected)' in premise.stdout
    for f in ('results.md', 'results.json', 'ap_by_group.png', 'per_category_ap.png',
              'grad_ratio.png', 'grad_sources.png', 'rare_objects.jpg'):
        assert (wd / f).stat().st_size > 0, f
    data = json.loads((wd / 'results.json').read_text())
    assert (data['preset'], data['regime']) == ('tiny', 'scratch')
    results = data['results']
    for method in ('softmax', 'eql-rfs'):
        for key in ('bbox/lvis', 'segm/lvis', 'bbox/strict', 'segm/strict'):
            summary = results[method]['0'][key]
            assert all(k in summary for k in ('AP', 'APr', 'APc', 'APf'))
            assert 0 <= summary['AP'] <= 1
    # a second run reuses the trained models and the dataset
    res = demo(tmp_path, in_process=True)
    assert res.returncode == 0 and 'done earlier' in res.stdout
    record = json.loads((wd / 'eql-rfs_seed0' / 'run.json').read_text())
    assert record['status'] == 'finished' and record['definition']['preset'] == 'tiny'
    assert (wd / 'eql-rfs_seed0' / 'run_config.py').is_file()  # the resolved config that ran
    # report only: seed 1 was never trained, it is left out and nothing trains
    res = demo(
        tmp_path,
        '--report-only',
        '--seeds',
        '0',
        '1',
        methods=('softmax', 'eql-rfs', 'eqlv2'),
        in_process=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'eql-rfs seed 1: no finished run, left out of the report' in res.stdout
    assert '| EQL, rare+common + RFS | 0 |' in res.stdout and 'EQLv2' not in res.stdout.split(
        'LVIS-like')[1]
    assert 'training' not in res.stdout
    # a finished run carries over as its run.json and eval.json (the evaluation, keyed by the
    # detections): without its detections it is reported from eval.json, the same numbers ...
    before = json.loads((wd / 'results.json').read_text())['results']
    for f in (wd / 'softmax_seed0').glob('dets.*.json'):
        f.unlink()
    res = demo(tmp_path, '--report-only', in_process=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'no rare_objects.jpg: the detections of softmax seed 0 are not' in res.stdout
    after = json.loads((wd / 'results.json').read_text())['results']
    assert after['softmax'] == before['softmax'] and after['eql-rfs'] == before['eql-rfs']
    assert '| softmax CE (mmdet) | 0 |' in res.stdout.split('Where the rare classes')[1]
    # ... unless it was evaluated by another version of the evaluation
    evaluation = wd / 'softmax_seed0' / 'eval.json'
    saved = evaluation.read_text()
    evaluation.write_text(saved.replace('"version": 1,', '"version": 0,'))
    res = demo(tmp_path, '--report-only', in_process=True)
    assert res.returncode != 0 and "evaluation's version (0 -> 1)" in res.stderr, res.stderr
    evaluation.write_text(saved)

    # the same work dir with another definition is refused, never reported as this one ...
    res = demo(
        tmp_path, options=['model.roi_head.bbox_head.loss_cls.loss_weight=2.0'], in_process=True)
    assert res.returncode != 0 and 'holds a run of another definition' in res.stderr, res.stderr
    assert 'cfg_options' in res.stderr and 'the resolved config' in res.stderr
    res = demo(tmp_path, iters='3', methods=('eql-rfs', ), in_process=True)
    assert res.returncode != 0 and 'max_iters (2 -> 3)' in res.stderr, res.stderr
    res = demo(tmp_path, '--report-only', iters='3', methods=('eql-rfs', ), in_process=True)
    assert res.returncode != 0 and 'max_iters (2 -> 3)' in res.stderr, res.stderr
    # ... and so is another dataset in the data root of the first
    res = demo(tmp_path, '--data-seed', '1', in_process=True)
    assert res.returncode != 0 and 'holds another dataset' in res.stderr, res.stderr
    # runs on another dataset (its own data root) do not pass for the seed-0 ones
    res = demo(
        tmp_path,
        '--data-seed',
        '1',
        '--report-only',
        data='data1',
        methods=('eql-rfs', ),
        in_process=True)
    assert res.returncode != 0, res.stderr
    assert 'data_seed (0 -> 1), the annotation files' in res.stderr, res.stderr
    # --retrain trains the new definition in place, one run after the other (the default,
    # output on the console); here the pre-trained regime's leaf of the method, tested with 20
    # detections an image instead of its 300 (an untrained head fills all 300 with masks to
    # paste; the leaves' 300 is tests/test_configs/test_longtail_leaves.py's)
    from conftest import TINY_PRETRAIN
    fewer = ['model.test_cfg.rcnn.max_per_img=20']
    res = demo(
        tmp_path,
        '--retrain',
        '--regime',
        'pretrained',
        '--pretrained-dir',
        tiny_pretrained,
        '--pretrain-options',
        *[f'{k}={v}' for k, v in TINY_PRETRAIN.items()],
        iters='3',
        methods=('eql-rfs', ),
        options=fewer)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert 'training eql-rfs (seed 0)' in res.stdout and 'pre-trained backbone' in res.stdout
    assert 'Saving checkpoint at 3 iterations' in res.stdout + res.stderr
    assert '| EQL, rare+common + RFS | 0 |' in res.stdout
    record = json.loads((wd / 'eql-rfs_seed0' / 'run.json').read_text())
    assert record['status'] == 'finished' and record['definition']['max_iters'] == 3
    # the method's leaf, with the regime applied at run time (its checkpoint's sha256 below)
    assert record['definition'][
        'config'] == 'configs/benchmark/mask-rcnn_r18-half_fpn_eql_rfs_longtail.py'
    with open(osp.join(tiny_pretrained, 'pretrain.json')) as f:
        assert record['definition']['pretrained'] == json.load(f)['checkpoint_sha256']
    # the checkpoint went into the backbone through the leaf's init_cfg: the frozen stem and first
    # stage still hold its tensors after training; a trained stage moved away from them
    import torch
    pre = torch.load(osp.join(tiny_pretrained, 'backbone.pth'), weights_only=False)['state_dict']
    det = torch.load(wd / 'eql-rfs_seed0' / 'iter_3.pth', weights_only=False)['state_dict']
    for k in ('backbone.conv1.weight', 'backbone.layer1.0.conv1.weight', 'backbone.bn1.weight'):
        assert torch.equal(det[k], pre[k]), k
    assert not torch.equal(det['backbone.layer4.1.conv2.weight'],
                           pre['backbone.layer4.1.conv2.weight'])

    # runs carry over to another machine or checkout: the definition holds no absolute path (a
    # copy of the pre-trained checkpoint's folder elsewhere is the same checkpoint)
    import shutil
    (tmp_path / 'data').rename(tmp_path / 'data_moved')
    moved = shutil.copytree(tiny_pretrained, tmp_path / 'pretrain_moved')
    pt = [
        '--regime', 'pretrained', '--pretrained-dir',
        str(moved), '--pretrain-options', *[f'{k}={v}' for k, v in TINY_PRETRAIN.items()]
    ]
    res = demo(
        tmp_path,
        '--report-only',
        *pt,
        iters='3',
        methods=('eql-rfs', ),
        data='data_moved',
        options=fewer,
        in_process=True)
    assert res.returncode == 0 and '| EQL, rare+common + RFS | 0 |' in res.stdout, res.stderr[
        -2000:]
    # parallel mode reuses finished runs too
    res = demo(
        tmp_path,
        '--jobs',
        '2',
        *pt,
        iters='3',
        methods=('eql-rfs', ),
        data='data_moved',
        options=fewer,
        in_process=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert 'eql-rfs seed 0: done earlier' in res.stdout
    assert 'training' not in res.stdout and '| EQL, rare+common + RFS | 0 |' in res.stdout
