"""The benchmark: a long-tailed detection dataset generated to LVIS's proportions, and the runners
that train, evaluate and compare the losses on it (``make demo``; docs/benchmark.md).

Modules, in the order a run goes through them:

* :mod:`~mmdet_eql.benchmark.synthetic`: the dataset generator (detection, classification and the
  pre-training set);
* :mod:`~mmdet_eql.benchmark.methods`: the methods (one leaf config each, found in
  ``configs/benchmark/``) and the regimes applied to them at run time;
* :mod:`~mmdet_eql.benchmark.pretrain`: the pre-trained regime's backbone;
* :mod:`~mmdet_eql.benchmark.runs`: run definitions and records, launching, the progress bar
  (shared by both runners);
* :mod:`~mmdet_eql.benchmark.detection` and :mod:`~mmdet_eql.benchmark.classification`: the two
  runners (``tools/benchmark/run.py``, ``tools/benchmark/run_cls.py``);
* :mod:`~mmdet_eql.benchmark.evaluation`: a detection run's evaluation and the budget protocols;
* :mod:`~mmdet_eql.benchmark.report`: the tables, plots and results files;
* :mod:`~mmdet_eql.benchmark.direction` and :mod:`~mmdet_eql.benchmark.rescore`: analyses of
  finished runs (the direction table against the published record; re-scoring with more
  verified negatives).

Nothing here is imported by ``import mmdet_eql``; the registry components do not depend on it.
"""
