"""The benchmark's generator: a synthetic long-tailed instance-segmentation dataset in
the LVIS v1 format.

Categories are shape x colour (x texture on larger presets): every rare class has look-alike
frequent classes (the same shape in a neighbouring hue, or a similar shape in the same hue).
Train image counts follow a Zipf-like tail that spans the three LVIS groups (rare 1-10 images,
common 11-100, frequent > 100). The dataset models the properties of LVIS that EQL relies on:

* an extreme tail: most classes have few images, a handful have most of them;
* unlabelled objects in train: some drawn objects carry no annotation (LVIS labels are not
  exhaustive), so the detector learns them as background;
* federated negatives in val: two val annotation files share the images. ``val_lvis.json`` lists
  as ``neg_category_ids`` a few randomly chosen absent classes per image, as LVIS does, so most
  false positives are never counted; ``val_strict.json`` lists every absent class, so all are.

Every category appears in the val images, so APr is measurable. The same preset and seed give
byte-identical files.

Layout: ``presets`` (the dataset sizes and the category table), ``assign`` (which classes go in
which image), ``render`` (drawing one image), ``write`` (images and annotation files), ``cli``
(the command line, ``tools/benchmark/make_dataset.py``); ``classification`` makes the
classification set and the pre-training set with the same looks
(``tools/benchmark/make_cls_dataset.py``).
"""
from .presets import PRESETS, Preset, check_preset
from .write import generate

__all__ = ['PRESETS', 'Preset', 'check_preset', 'generate']
