"""ClassFreqCheckHook checks every component that holds class frequencies, not only the
frequency-aware head, and says which it could not check by name."""
import json
from types import SimpleNamespace

import pytest
import torch.nn as nn
from mmdet.registry import MODELS

import mmdet_eql  # noqa: F401
from mmdet_eql.engine.hooks.class_freq_check_hook import ClassFreqCheckHook

CLASSES = ['cat', 'dog', 'emu', 'fox']


def freq_file(tmp_path, names, name='freq.json'):
    cats = [
        dict(id=i + 1, name=n, image_count=10 * (i + 1), freq=0.1 * (i + 1))
        for i, n in enumerate(names)
    ]
    path = tmp_path / name
    path.write_text(json.dumps(dict(categories=cats)))
    return str(path)


def plain_head_with_eql(class_freq):
    """mmdet's plain Shared2FCBBoxHead (no frequency-aware head) with EQLLoss given its own
    frequencies, inside a wrapper as the runner's model is inside DDP."""
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            num_classes=4,
            in_channels=8,
            fc_out_channels=8,
            roi_feat_size=2,
            loss_cls=dict(type='EQLLoss', num_classes=4, lambda_=0.25, class_freq=class_freq)))
    return nn.ModuleDict(dict(bbox_head=head))


def runner(model, classes=CLASSES):
    loader = SimpleNamespace(dataset=SimpleNamespace(metainfo=dict(classes=classes)))
    return SimpleNamespace(
        model=model,
        train_loop=SimpleNamespace(dataloader=loader),
        test_loop=SimpleNamespace(dataloader=loader))


def test_eql_on_plain_head_with_another_datasets_names_is_refused(tmp_path):
    swapped = freq_file(tmp_path, ['cat', 'emu', 'dog', 'fox'], 'swapped.json')
    hook = ClassFreqCheckHook()
    r = runner(plain_head_with_eql(swapped))
    with pytest.raises(
            ValueError,
            match=r"bbox_head.loss_cls \(EQLLoss\): class frequencies from "
            r".*swapped.json do not match the dataset classes: 2 names differ "
            r"\(first at index 1: 'emu' vs 'dog'\)"):
        hook.before_train(r)
    with pytest.raises(ValueError, match='EQLLoss'):
        hook.before_test(r)


def fresh_logger(name):
    """A current mmengine logger whose handler writes to this test's captured stdout."""
    from mmengine.logging import MMLogger
    return MMLogger.get_instance(name)


def test_matching_names_pass_and_are_reported(tmp_path, capsys):
    fresh_logger('class_freq_hook_match')
    ok = freq_file(tmp_path, CLASSES)
    ClassFreqCheckHook().before_train(runner(plain_head_with_eql(ok)))
    out = capsys.readouterr()
    assert "bbox_head.loss_cls (EQLLoss) match the train dataset's 4 class names" in (out.out +
                                                                                      out.err)


def test_unnamed_frequencies_are_counted_and_said_unchecked(tmp_path, capsys):
    model = plain_head_with_eql([0.1, 0.2, 0.3, 0.4])
    fresh_logger('class_freq_hook_unnamed')
    ClassFreqCheckHook().before_train(runner(model))
    out = capsys.readouterr()
    assert ('WARNING - ClassFreqCheckHook: NOT checked by name: bbox_head.loss_cls (EQLLoss): '
            'frequencies from sequence carry no category names') in out.out + out.err
    # a list of the wrong length is refused even without names
    with pytest.raises(ValueError, match='have 4 entries but the train dataset has 5 classes'):
        ClassFreqCheckHook().before_train(runner(model, CLASSES + ['gnu']))


def test_label_order_of_a_coco_style_dataset_is_checked_against_the_frequency_ids():
    """mmdet's CocoDataset numbers labels in the order its file lists the categories; class
    frequencies are by id. A file listed out of id order used to pass the name check (the config's
    classes in id order) while every label read another class's frequency."""
    import types

    import numpy as np
    import torch.nn as nn

    from mmdet_eql.engine.hooks.class_freq_check_hook import check_label_order
    from mmdet_eql.utils.class_frequency import ClassFrequency
    model = nn.Module()
    model.head = nn.Module()
    model.head.class_freq = ClassFrequency(
        freq=np.array([0.5, 0.1, 0.2]), names=['a', 'b', 'c'], ids=[2, 5, 9], source='f.json')
    check_label_order(model, types.SimpleNamespace(cat_ids=[2, 5, 9]))  # id order: fine
    check_label_order(model, types.SimpleNamespace())  # no cat_ids (LVIS-style): nothing to check
    with pytest.raises(ValueError, match='label 0 is category id 9 in the dataset but id 2'):
        check_label_order(model, types.SimpleNamespace(cat_ids=[9, 5, 2]))
