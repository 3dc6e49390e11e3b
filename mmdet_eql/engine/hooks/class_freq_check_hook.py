"""Checks, before training and testing, that class frequencies belong to the dataset in use (and
that a model with a mask head has masks to learn from)."""
import logging
from typing import List, Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet_eql.utils.class_frequency import ClassFrequency, check_class_names


def _inner_dataset(dataloader):
    dataset = getattr(dataloader, 'dataset', None)
    while hasattr(dataset, 'dataset') and not hasattr(dataset, 'cat_ids'):
        dataset = dataset.dataset  # ClassBalancedDataset and other wrappers
    return dataset


def _dataset_classes(dataloader) -> Optional[List[str]]:
    dataset = getattr(dataloader, 'dataset', None)
    meta = getattr(dataset, 'metainfo', None) or {}
    classes = meta.get('classes')
    return list(classes) if classes else None


def check_label_order(model, dataset) -> None:
    """mmdet's COCO-style datasets number their labels in the order the annotation file lists its
    categories (``dataset.cat_ids``), not by id; class frequencies are by id. Raises ValueError
    when a module's frequencies carry category ids that are not the dataset's label order."""
    cat_ids = getattr(dataset, 'cat_ids', None)
    if not cat_ids:
        return
    for name, module in model.named_modules():
        cf = getattr(module, 'class_freq', None)
        if not isinstance(cf, ClassFrequency) or cf.ids is None or len(cf.ids) != len(cat_ids):
            continue
        if list(cf.ids) != list(cat_ids):
            i = next(k for k, (a, b) in enumerate(zip(cf.ids, cat_ids)) if a != b)
            raise ValueError(
                f'{name or "model"} ({type(module).__name__}): label {i} is category id '
                f'{cat_ids[i]} in the dataset but id {cf.ids[i]} in the class frequencies from '
                f'{cf.source}: mmdet numbers the labels in the order the annotation file lists its '
                'categories, the frequencies are by id. List the categories in id order in the '
                'annotation files (tools/misc/own_data_leaf.py writes such copies)')


def check_masks(model, dataset, phase: str = 'train', images: int = 200) -> None:
    """A model with a mask head needs masks: raises ValueError when the dataset's annotations
    (its first ``images`` images with objects) carry none, as box-only data (most own datasets,
    every Pascal VOC-style one) does; mmdet would stop later in the data loader with a bare
    ``KeyError: 'mask'``."""
    model = getattr(model, 'module', model)
    if not getattr(model, 'with_mask', False) or dataset is None or not hasattr(
            dataset, 'get_data_info'):
        return
    seen = 0
    for idx in range(len(dataset)):
        instances = dataset.get_data_info(idx).get('instances', [])
        if any('mask' in inst for inst in instances):
            return
        seen += bool(instances)
        if seen >= images:
            break
    if seen:
        raise ValueError(
            f'the {phase} annotations ({getattr(dataset, "ann_file", "the dataset")}) have no '
            f'segmentation on their first {seen} images with objects, and the model '
            f'({type(model).__name__}) has a mask head: box-only data trains a box detector. '
            'Write a Faster R-CNN leaf for it (tools/misc/own_data_leaf.py does when the train '
            'file has no segmentation; configs/own-data/faster-rcnn_r50_fpn_eql_random-1x_'
            'coco-format.py), or add polygons or RLE to the annotations')


def check_model_class_freq(model, classes: Optional[List[str]], where: str = 'dataset') -> dict:
    """Compares the class frequencies of every module of ``model`` that holds them (a
    ``class_freq`` attribute: the frequency-aware head, EQLLoss on any head, every loss that takes
    frequencies) with the dataset's ``classes``.

    Raises:
        ValueError: a module's frequencies name other categories than the dataset (the first
            differing name), or have another number of categories.

    Returns:
        dict: ``checked`` (module names whose frequencies' names were compared) and
        ``unchecked`` (module name -> why its frequencies could not be compared by name).
    """
    checked, unchecked = [], {}
    for name, module in model.named_modules():
        cf = getattr(module, 'class_freq', None)
        if not isinstance(cf, ClassFrequency):
            continue
        label = f'{name or "model"} ({type(module).__name__})'
        if classes is None:
            unchecked[label] = f'the {where} declares no class names'
            continue
        try:
            check_class_names(cf, classes)
        except ValueError as e:
            raise ValueError(f'{label}: {e}') from None
        if cf.names is None or any(n is None for n in cf.names):
            if len(cf) != len(classes):
                raise ValueError(f'{label}: class frequencies from {cf.source} have {len(cf)} '
                                 f'entries but the {where} has {len(classes)} classes')
            unchecked[label] = (f'frequencies from {cf.source} carry no category names (only '
                                'their number was checked); give a JSON made by '
                                'tools/analysis_tools/class_frequency.py or a preset')
        else:
            checked.append(label)
    return dict(checked=checked, unchecked=unchecked)


@HOOKS.register_module()
class ClassFreqCheckHook(Hook):
    """Compares the category names of every component's class frequencies with the dataset's
    classes, before training and before testing.

    Every module holding a ``class_freq`` is checked: the frequency-aware head, ``EQLLoss`` on
    mmdet's plain head, and every loss that takes frequencies. Catches, for example, an LVIS
    v0.5 frequency file used to train on LVIS v1: the run stops at the start with the module and
    the first differing name instead of training with wrong frequencies. Frequencies given as a
    bare list of numbers carry no names: their number is checked and the hook says, as a warning,
    which modules it could not check by name. A model with a mask head on box-only annotations
    stops here too (:func:`check_masks`), with the fix named.
    """
    priority = 'VERY_HIGH'

    def _check(self, runner, dataloader, phase: str) -> None:
        check_label_order(runner.model, _inner_dataset(dataloader))
        check_masks(runner.model, _inner_dataset(dataloader), phase)
        classes = _dataset_classes(dataloader)
        result = check_model_class_freq(runner.model, classes, where=f'{phase} dataset')
        if result['checked']:
            print_log(
                f'ClassFreqCheckHook: the class frequencies of {", ".join(result["checked"])} '
                f'match the {phase} dataset\'s {len(classes)} class names',
                logger='current')
        for label, why in result['unchecked'].items():
            print_log(
                f'ClassFreqCheckHook: NOT checked by name: {label}: {why}',
                logger='current',
                level=logging.WARNING)
        if not result['checked'] and not result['unchecked']:
            print_log(
                'ClassFreqCheckHook: no module of the model holds class frequencies; '
                'nothing to check',
                logger='current')

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop.dataloader, 'train')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop.dataloader, 'test')
