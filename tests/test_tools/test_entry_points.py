"""tools/train.py and tools/test.py on a new user's first hour: what each flag does to the config,
and the errors that name the fix (--data-root, --max-iters, --amp on the CPU, the DDP wrapper on
a machine without CUDA, a checkpoint URL that cannot be downloaded)."""
import os
import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LEAF = osp.join(ROOT, 'configs', 'eql', 'mask-rcnn_r50_fpn_eql_sample1e-3-ms-1x_lvis-v1.py')


def train_cfg(*argv):
    from mmdet_eql.apis import train
    return train.build_cfg(train.parse_args([LEAF, *argv]))


def lvis_root(tmp_path):
    (tmp_path / 'annotations').mkdir()
    for split in ('train', 'val'):
        (tmp_path / 'annotations' / f'lvis_v1_{split}.json').write_text('{}')
    return str(tmp_path)


def test_data_root_reaches_the_dataset_inside_class_balanced_dataset(tmp_path):
    root = lvis_root(tmp_path)
    cfg = train_cfg('--data-root', root, '--max-iters', '3')
    assert cfg.train_dataloader.dataset.type == 'ClassBalancedDataset'
    inner = cfg.train_dataloader.dataset.dataset
    assert inner.data_root == osp.join(root, '') and inner.ann_file.endswith('lvis_v1_train.json')
    for loader in ('val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == osp.join(root, '')
    for ev in ('val_evaluator', 'test_evaluator'):
        assert cfg[ev].ann_file == osp.join(root, 'annotations', 'lvis_v1_val.json')
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=3, val_interval=3)
    assert cfg.default_hooks.checkpoint.by_epoch is False
    assert cfg.default_hooks.checkpoint.interval == 3 and cfg.log_processor.by_epoch is False
    assert cfg.default_hooks.logger.interval == 1  # every iteration of a short run
    cfg = train_cfg('--data-root', root, '--max-iters', '400')
    assert cfg.default_hooks.logger.interval == 20  # about 20 lines a run
    cfg = train_cfg('--data-root', root, '--max-iters', '90000')
    assert cfg.default_hooks.logger.interval == 50  # never less often than the leaf
    # --cfg-options still win
    cfg = train_cfg('--data-root', root, '--cfg-options', 'train_dataloader.batch_size=1')
    assert cfg.train_dataloader.batch_size == 1
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'  # no --max-iters: the leaf's schedule


def test_data_root_and_max_iters_errors_name_the_value(tmp_path):
    with pytest.raises(SystemExit, match=r"--data-root '.*nowhere' is not a directory"):
        train_cfg('--data-root', str(tmp_path / 'nowhere'))
    (tmp_path / 'annotations').mkdir()
    with pytest.raises(
            SystemExit,
            match=r"train_dataloader: the annotation file "
            r"'annotations/lvis_v1_train.json' is not under --data-root"):
        train_cfg('--data-root', str(tmp_path))
    with pytest.raises(SystemExit):
        train_cfg('--max-iters', '0')  # argparse: --max-iters must be a positive integer


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only message')
def test_amp_on_a_cpu_machine_says_what_works_where():
    with pytest.raises(SystemExit, match='--amp: mmengine trains with mixed precision .* on CUDA'):
        train_cfg('--amp')


def test_multi_process_config_without_cuda_gets_the_cpu_wrapper():
    from mmengine.config import Config

    from mmdet_eql.engine.model_wrappers import cpu_model_wrapper_cfg
    cfg = Config(dict(launcher='pytorch'))
    assert cpu_model_wrapper_cfg(cfg, cuda_available=False)
    assert cfg.model_wrapper_cfg == dict(
        type='DeviceAwareDistributedDataParallel', find_unused_parameters=False)
    cfg = Config(dict(launcher='slurm', model_wrapper_cfg=dict(find_unused_parameters=True)))
    assert cpu_model_wrapper_cfg(cfg, cuda_available=False)
    assert cfg.model_wrapper_cfg.type == 'DeviceAwareDistributedDataParallel'
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    for unchanged in (dict(launcher='none'), dict(launcher='pytorch'),
                      dict(launcher='pytorch', model_wrapper_cfg=dict(type='MyWrapper'))):
        cfg = Config(unchanged)
        cuda = unchanged == dict(launcher='pytorch')  # with CUDA nothing changes
        assert not cpu_model_wrapper_cfg(cfg, cuda_available=cuda)
        assert cfg.get('model_wrapper_cfg') == unchanged.get('model_wrapper_cfg')


def test_the_wrapper_names_the_buffer_flag_torch_has():
    """torch 2.13 deprecates DDP's broadcast_buffers (a FutureWarning); the wrapper uses the name
    the installed torch has."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    from mmdet_eql.engine.model_wrappers.distributed import BUFFER_SYNC_FLAG
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    if 'forward_sync_buffers' in params:
        assert BUFFER_SYNC_FLAG == 'forward_sync_buffers'
    else:
        assert BUFFER_SYNC_FLAG == 'broadcast_buffers'


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_a_checkpoint_url_that_cannot_be_downloaded_names_the_hub_cache(tmp_path, monkeypatch):
    """The LVIS leaves' ImageNet file by URL, no network: the error says where to copy it."""
    from mmengine.runner.checkpoint import CheckpointLoader

    import mmdet_eql  # noqa: F401  (registers the loader)
    from mmdet_eql.compat import CheckpointDownloadError
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'th'))
    url = f'http://127.0.0.1:{free_port()}/models/resnet50-0676ba61.pth'  # nothing listens
    want = osp.join(str(tmp_path / 'th'), 'hub', 'checkpoints', 'resnet50-0676ba61.pth')
    with pytest.raises(
            CheckpointDownloadError,
            match=f'could not download the checkpoint {url}'
            rf'.*copy the file to {want}'):
        CheckpointLoader.load_checkpoint(url, map_location='cpu')
    # once the file is there it is read, not downloaded
    os.makedirs(osp.dirname(want), exist_ok=True)
    torch.save({'w': torch.ones(2)}, want)
    assert torch.equal(
        CheckpointLoader.load_checkpoint(url, map_location='cpu')['w'], torch.ones(2))


def test_a_child_that_drops_the_projects_hooks_is_warned(tmp_path, capsys):
    """mmengine replaces a parent's custom_hooks list with a child's: a child of an EQL leaf that
    adds the gradient-ratio monitor alone would drop ClassFreqCheckHook and RNGStateHook silently.
    tools/train.py says which hooks are missing and the list to write; the leaf itself, and a child
    that lists them again, get no such warning."""
    from mmengine.config import Config

    from mmdet_eql.apis import train
    from mmdet_eql.utils.run_config import missing_project_hooks
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = '{LEAF}'\ncustom_hooks = [dict(type='GradientRatioMonitorHook')]\n")
    assert missing_project_hooks(Config.fromfile(LEAF)) == []
    assert missing_project_hooks(Config.fromfile(
        str(child))) == ['ClassFreqCheckHook', 'RNGStateHook']
    capsys.readouterr()
    train.build_cfg(train.parse_args([str(child)]))
    out = capsys.readouterr()
    text = out.out + out.err
    assert 'custom_hooks lacks ClassFreqCheckHook, RNGStateHook' in text, text
    assert ("custom_hooks = [dict(type='ClassFreqCheckHook'), dict(type='RNGStateHook'), "
            "dict(type='GradientRatioMonitorHook')]") in text
    fixed = tmp_path / 'fixed.py'
    fixed.write_text(f"_base_ = '{LEAF}'\ncustom_hooks = [dict(type='ClassFreqCheckHook'), "
                     "dict(type='RNGStateHook'), dict(type='GradientRatioMonitorHook')]\n")
    assert missing_project_hooks(Config.fromfile(str(fixed))) == []


def test_torchvision_weights_get_an_error_that_names_the_key_and_the_url(tmp_path, monkeypatch):
    """mmdet's own COCO base names torchvision://resnet50; without a loadable torchvision the run
    used to end in a bare ModuleNotFoundError at weight initialisation. tools/train.py now stops
    at the start naming the key and the URL of the same weights."""
    import builtins

    from mmdet_eql.apis import train
    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name == 'torchvision' or name.startswith('torchvision.'):
            raise ModuleNotFoundError("No module named 'torchvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_torchvision)
    leaf = tmp_path / 'coco.py'
    leaf.write_text("_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n")
    with pytest.raises(SystemExit) as e:
        train.build_cfg(train.parse_args([str(leaf)]))
    msg = str(e.value)
    assert "model.backbone.init_cfg.checkpoint = 'torchvision://resnet50' needs torchvision" in msg
    assert 'https://download.pytorch.org/models/resnet50-0676ba61.pth' in msg
    # the project's leaves name the URL: no error
    train.build_cfg(train.parse_args([LEAF]))
