"""Checks, before training and testing, that class frequencies belong to the dataset in use."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook


def _dataset_classes(dataloader):
    dataset = getattr(dataloader, 'dataset', None)
    meta = getattr(dataset, 'metainfo', None) or {}
    classes = meta.get('classes')
    return list(classes) if classes else None


@HOOKS.register_module()
class ClassFreqCheckHook(Hook):
    """Compares every frequency-aware head's category names with the dataset's classes.

    Catches, for example, an LVIS v0.5 frequency file used to train on LVIS v1: the run stops at
    the start with the first differing name instead of training with wrong frequencies.
    """
    priority = 'VERY_HIGH'

    def _check(self, runner, dataloader) -> None:
        classes = _dataset_classes(dataloader)
        if classes is None:
            return
        for module in runner.model.modules():
            if hasattr(module, 'check_class_names') and hasattr(module, 'class_freq'):
                module.check_class_names(classes)

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop.dataloader)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop.dataloader)
