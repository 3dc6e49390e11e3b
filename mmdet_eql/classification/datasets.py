"""Long-tailed classification datasets: the embedded set (tools/benchmark/make_cls_dataset.py)
and CIFAR-100-LT, drawn from CIFAR-100's own files with the standard exponential profile."""
import io
import json
import os.path as osp
import pickle
from typing import List

import numpy as np
import torch
from mmdet.registry import DATASETS
from mmengine.dataset import BaseDataset


def long_tail_counts(max_count: int, num_classes: int, imbalance: float) -> List[int]:
    """Train images per class of the standard exponential long-tailed profile (CIFAR-LT, Cui et
    al. 2019; Cao et al. 2019): n_i = int(max_count * imbalance ** (-i / (C - 1))), so class 0 has
    ``max_count`` and class C - 1 has max_count / imbalance (rounded down)."""
    if imbalance < 1:
        raise ValueError(f'imbalance must be >= 1 (largest / smallest class), got {imbalance}')
    if num_classes < 2:
        raise ValueError(f'num_classes must be at least 2, got {num_classes}')
    return [int(max_count * imbalance**(-i / (num_classes - 1))) for i in range(num_classes)]


class _Arrays(BaseDataset):
    """A dataset of in-memory HWC uint8 images and labels; items are
    dict(inputs=(3, H, W) uint8 tensor, data_samples=label tensor)."""

    images: np.ndarray
    labels: np.ndarray

    def load_data_list(self) -> List[dict]:
        return [dict(index=i, gt_label=int(y)) for i, y in enumerate(self.labels)]

    def prepare_data(self, idx) -> dict:
        info = self.get_data_info(idx)
        img = torch.from_numpy(np.ascontiguousarray(self.images[info['index']])).permute(2, 0, 1)
        return dict(inputs=img, data_samples=torch.tensor(info['gt_label']))


@DATASETS.register_module()
class LongTailClsDataset(_Arrays):
    """The embedded long-tailed classification set: ``data_root``/``{split}.npz`` (images (N, H,
    W, 3) uint8, labels (N,)) and ``data_root``/class_freq.json (the class-frequency format, with
    each class's train image count), both written by tools/benchmark/make_cls_dataset.py.

    metainfo: ``classes`` and ``train_image_counts`` (what LongTailAccuracy groups by)."""

    def __init__(self, data_root: str, split: str = 'train', **kwargs) -> None:
        path = osp.join(data_root, f'{split}.npz')
        freq = osp.join(data_root, 'class_freq.json')
        for p in (path, freq):
            if not osp.isfile(p):
                raise FileNotFoundError(f'LongTailClsDataset: no {p}; make the set with python '
                                        f'tools/benchmark/make_cls_dataset.py {data_root}')
        with np.load(path) as z:
            self.images, self.labels = z['images'], z['labels'].astype(np.int64)
        with open(freq) as f:
            cats = json.load(f)['categories']
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or len(self.images) != len(
                self.labels):
            raise ValueError(f'{path}: images must be (N, H, W, 3) with N labels, got '
                             f'{self.images.shape} and {self.labels.shape}')
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(cats)):
            raise ValueError(f'{path}: labels must lie in [0, {len(cats) - 1}] ({freq} lists '
                             f'{len(cats)} classes)')
        metainfo = dict(
            classes=tuple(c['name'] for c in cats),
            train_image_counts=tuple(int(c['image_count']) for c in cats))
        super().__init__(
            data_root=data_root, ann_file='', metainfo=metainfo, serialize_data=False, **kwargs)


class _DataOnly(pickle.Unpickler):
    """CIFAR's python files: dicts of lists, bytes and numpy arrays; nothing else is loaded."""
    ALLOWED = {('numpy.core.multiarray', '_reconstruct'),
               ('numpy._core.multiarray', '_reconstruct'), ('numpy', 'ndarray'), ('numpy', 'dtype'),
               ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
               ('_codecs', 'encode')}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'{module}.{name} is not data')


def read_cifar_file(path: str) -> dict:
    """One file of CIFAR's python version (``train``, ``test`` or ``meta``), read as data only."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CIFAR-100: no {path}; expected the python version of CIFAR-100 unpacked there '
            '(cifar-100-python/{train,test,meta}, from https://www.cs.toronto.edu/~kriz/cifar.html)'
        )
    with open(path, 'rb') as f:
        try:
            return _DataOnly(io.BytesIO(f.read()), encoding='bytes').load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise ValueError(
                f'{path} is not a file of the python version of CIFAR-100: {e}') from None


@DATASETS.register_module()
class CIFAR100LTDataset(_Arrays):
    """CIFAR-100-LT: the training split drawn from CIFAR-100's own files with the standard
    exponential profile (``long_tail_counts(500, 100, imbalance)``; each class's images picked by
    a shuffle of its indices, one RandomState(``seed``) for all classes in class order); the test
    split is CIFAR-100's balanced test set.

    Args:
        data_root (str): folder holding ``cifar-100-python/`` (train, test, meta).
        split (str): 'train' or 'test'.
        imbalance (float): largest / smallest class of the training split (the paper: 200).
        max_count (int): train images of the largest class (CIFAR-100: 500, all of them).
        seed (int): seed of the draw.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 imbalance: float = 200,
                 max_count: int = 500,
                 seed: int = 0,
                 **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"CIFAR100LTDataset: split must be 'train' or 'test', got {split!r}")
        folder = osp.join(data_root, 'cifar-100-python')
        meta = read_cifar_file(osp.join(folder, 'meta'))
        names = tuple(n.decode() for n in meta[b'fine_label_names'])
        counts = long_tail_counts(max_count, len(names), imbalance)
        if min(counts) < 1:
            raise ValueError(f'CIFAR100LTDataset: imbalance {imbalance:g} with max_count '
                             f'{max_count} leaves a class without images')
        data = read_cifar_file(osp.join(folder, split))
        images = np.asarray(data[b'data'], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.asarray(data[b'fine_labels'], np.int64)
        if split == 'train':
            per_class = np.bincount(labels, minlength=len(names))
            if per_class.min() < max_count:
                raise ValueError(f'CIFAR100LTDataset: {folder}/train has {per_class.min()} images '
                                 f'of class {int(per_class.argmin())}, fewer than max_count '
                                 f'{max_count}')
            keep = self.select(labels, counts, seed)
            images, labels = images[keep], labels[keep]
        self.images, self.labels = images, labels
        metainfo = dict(classes=names, train_image_counts=tuple(counts))
        super().__init__(
            data_root=data_root, ann_file='', metainfo=metainfo, serialize_data=False, **kwargs)

    @staticmethod
    def select(labels: np.ndarray, counts: List[int], seed: int) -> np.ndarray:
        """Indices of the long-tailed subset: for each class in order, its indices shuffled by
        one RandomState(seed), the first counts[c] kept."""
        rng = np.random.RandomState(seed)
        keep = []
        for c, n in enumerate(counts):
            idx = np.flatnonzero(labels == c)
            rng.shuffle(idx)
            keep.append(idx[:n])
        return np.concatenate(keep)
