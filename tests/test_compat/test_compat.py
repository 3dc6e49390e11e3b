import os.path as osp
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn

import mmdet_eql  # noqa: F401  (applies the fixes)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LVIS_SAMPLE = osp.join(ROOT, 'tests', 'data', 'lvis_v0.5_val_100.json')


def test_numpy_itself_is_not_patched():
    assert not hasattr(np, 'float')


def test_lvis_eval_accumulate_runs_on_current_numpy():
    from lvis import LVIS, LVISEval, LVISResults
    gt = LVIS(LVIS_SAMPLE)
    dets = [
        dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'], score=0.9)
        for a in gt.dataset['annotations']
    ]
    ev = LVISEval(gt, LVISResults(gt, dets), 'bbox')
    ev.run()  # accumulate() used np.float
    assert ev.results['AP'] == pytest.approx(1.0)


class ToyModel(nn.Module):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='loss'):
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        out = self.linear(x).squeeze(1)
        if mode == 'loss':
            y = torch.stack(labels) if isinstance(labels, (list, tuple)) else labels
            return dict(loss=((out - y)**2).mean())
        return out

    def train_step(self, data, optim_wrapper):
        losses = self(*data.values() if isinstance(data, dict) else data)
        optim_wrapper.update_params(losses['loss'])
        return dict(loss=losses['loss'])


class ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', ))

    def __len__(self):
        return 16

    def __getitem__(self, i):
        x = torch.tensor([float(i), 1.0])
        return dict(inputs=x, labels=x.sum())


def make_runner(work_dir, max_iters, resume=False):
    from mmengine.dataset import default_collate
    from mmengine.runner import Runner
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            collate_fn=default_collate),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.001, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=1000),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False)),
        randomness=dict(seed=0),
        resume=resume,
        default_scope='mmengine',
        experiment_name=f'toy{max_iters}{resume}')


def test_runner_checkpoint_loads_weights_only_and_resumes(tmp_path):
    make_runner(tmp_path, 3).train()
    ckpt = tmp_path / 'iter_3.pth'
    assert ckpt.exists()
    data = torch.load(str(ckpt), map_location='cpu', weights_only=True)  # torch's safe loader
    assert data['meta']['iter'] == 3 and 'message_hub' in data
    runner = make_runner(tmp_path, 6, resume=True)
    runner.train()
    assert runner.iter == 6
    # the resumed run equals an uninterrupted one
    fresh = make_runner(tmp_path / 'fresh', 6)
    fresh.train()
    torch.testing.assert_close(runner.model.linear.weight, fresh.model.linear.weight)


class NotAllowed:
    pass


def test_other_types_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowed()}, str(path))
    with pytest.raises(pickle.UnpicklingError):
        torch.load(str(path), weights_only=True)


class Sneaky:

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'x': Sneaky()}, str(path))
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer statistics'):
        torch.load(str(path), weights_only=True)
