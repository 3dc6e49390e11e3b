"""An LVIS v1-format dataset whose classes are read from its own annotation file."""
import colorsys
import json
from typing import List

from mmdet.datasets import LVISV1Dataset
from mmdet.registry import DATASETS
from mmengine.fileio import get_local_path


@DATASETS.register_module()
class LVISFormatDataset(LVISV1Dataset):
    """mmdet's ``LVISV1Dataset`` for any LVIS-format file (the embedded benchmark, your own data).

    mmdet's LVIS classes list the 1203 LVIS v1 names whatever the file holds; this class takes the
    names (sorted by category id, the order of the labels) from the file's ``categories``, so the
    model, the metric's class-wise table and the class-frequency check see the real names.
    """
    METAINFO = dict(classes=(), palette=None)

    def load_data_list(self) -> List[dict]:
        with get_local_path(self.ann_file, backend_args=self.backend_args) as local_path:
            with open(local_path) as f:
                cats = sorted(json.load(f)['categories'], key=lambda c: c['id'])
        names = tuple(c['name'] for c in cats)
        self._metainfo['classes'] = names
        self._metainfo['palette'] = [
            tuple(int(255 * v) for v in colorsys.hsv_to_rgb(i / max(len(names), 1), 0.8, 0.9))
            for i in range(len(names))
        ]
        return super().load_data_list()
