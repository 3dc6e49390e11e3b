"""``CompactDumpDetResults``: mmdet's ``DumpDetResults`` whose pickle holds only the predictions.

On the CPU the kept detections are views into the (RoIs x classes) tensors they were selected
from (mmengine's ``_to_cpu`` is a no-op there), and pickling a view writes its whole storage:
about 37 MB per image for a 1203-class Mask R-CNN, hundreds of GB for LVIS val. Each tensor is
copied into storage of its own size before it is kept.
"""
import io
import pickle
from typing import Any, List, Sequence

import torch
from mmdet.evaluation import DumpDetResults
from mmdet.registry import METRICS


def compact(data: Any) -> Any:
    """``data`` with every tensor (in dicts, lists, tuples) copied to fresh, compact storage."""
    if isinstance(data, torch.Tensor):
        return data.clone(memory_format=torch.contiguous_format)
    if isinstance(data, dict):
        return {k: compact(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(compact(v) for v in data)
    return data


@METRICS.register_module()
class CompactDumpDetResults(DumpDetResults):
    """Dumps model predictions to a pickle file (``out_file_path``, .pkl) for offline
    evaluation, as mmdet's ``DumpDetResults`` does (masks as RLE), each tensor in storage of its
    own size. ``tools/test.py --out`` uses it."""

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        self.results[start:] = [compact(r) for r in self.results[start:]]


class _PredictionsUnpickler(pickle.Unpickler):
    """Unpickles data only: tensors (mmdet's dump pickles them with the standard pickler), NumPy
    arrays, bytes and containers; any other global (a function, a class) is refused. A tensor's
    storage, which pickle nests as a torch.save blob, is read with torch's weights-only
    unpickler."""

    ALLOWED = {('torch._utils', '_rebuild_tensor_v2'), ('collections', 'OrderedDict'),
               ('_codecs', 'encode'), ('numpy', 'ndarray'), ('numpy', 'dtype'),
               ('numpy.core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
               ('numpy._core.multiarray', '_reconstruct'), ('numpy._core.multiarray', 'scalar')}

    def find_class(self, module, name):
        if (module, name) == ('torch.storage', '_load_from_bytes'):
            return _storage_from_bytes
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'the pickle names {module}.{name}, which a predictions '
                                     'dump does not hold')


def _storage_from_bytes(b: bytes):
    return torch.load(io.BytesIO(b), weights_only=True)


def load_dumped_predictions(path: str) -> List[dict]:
    """Reads the pickle ``tools/test.py --out`` writes: one dict per image with ``img_id`` and
    ``pred_instances`` (bboxes, scores, labels, and masks as RLE, mask_scores for segm), returned
    with NumPy arrays in place of tensors. Only data is unpickled (:class:`_PredictionsUnpickler`):
    a pickle that names a function or class is refused.

    Raises:
        ToolError: the file is not such a pickle (the message says how to make one, or JSON).
    """
    import numpy as np

    from mmdet_eql.utils.io import ToolError
    how = ('make it with tools/test.py CONFIG CHECKPOINT --out preds.pkl, or write LVIS results '
           'JSON with --cfg-options test_evaluator.outfile_prefix=PREFIX (PREFIX.bbox.json)')
    try:
        with open(path, 'rb') as f:
            data = _PredictionsUnpickler(f).load()
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError,
            ImportError) as e:
        raise ToolError(f'results file {path!r} is not a predictions pickle of tools/test.py '
                        f'--out ({str(e).splitlines()[0][:200]}); {how}') from None
    except OSError as e:
        raise ToolError(f'results file {path!r} cannot be read: {e.strerror}') from None
    if not isinstance(data, list) or not all(
            isinstance(p, dict) and 'img_id' in p and isinstance(p.get('pred_instances'), dict)
            for p in data):
        raise ToolError(f'results file {path!r} is a pickle but not the predictions '
                        f'tools/test.py --out writes (a list of dicts with img_id and '
                        f'pred_instances); {how}')

    def numpy(v):
        return v.numpy() if isinstance(v, torch.Tensor) else v

    out = []
    for p in data:
        inst = {k: numpy(v) for k, v in p['pred_instances'].items()}
        for key in ('bboxes', 'scores', 'labels'):
            if key not in inst:
                raise ToolError(f'results file {path!r}: the predictions of image {p["img_id"]} '
                                f'have no {key!r}')
        inst['img_id'] = int(p['img_id'])
        inst['bboxes'] = np.asarray(inst['bboxes']).reshape(-1, 4)
        out.append(inst)
    return out


__all__ = ['CompactDumpDetResults', 'compact', 'load_dumped_predictions']
