"""mmdet's Open Images dataset with the challenge files checked before they are read."""
from typing import List

from mmdet.datasets import OpenImagesDataset
from mmdet.registry import DATASETS

from mmdet_eql.utils.openimages import validate_openimages


@DATASETS.register_module()
class CheckedOpenImagesDataset(OpenImagesDataset):
    """mmdet's ``OpenImagesDataset`` (the challenge's and V4-V6's CSV files, read by mmdet) that
    first checks its files (:func:`mmdet_eql.utils.openimages.validate_openimages`): a missing
    hierarchy, meta or annotation file, a box label that is not a class, classes outside the
    hierarchy (or hierarchy labels that are not classes), rows of one image apart, and metas
    out of the box file's order stop the run with the file and the value named, where mmdet
    would fail on a bare assertion or a KeyError deep in loading, or pair boxes with the wrong
    image sizes."""

    def load_data_list(self) -> List[dict]:
        validate_openimages(self.ann_file, self.label_file, self.hierarchy_file, self.meta_file)
        return super().load_data_list()
