"""The entry points of ``tools/train.py`` and ``tools/test.py`` (mmdet's, with the plugin loaded):
``mmdet_eql.apis.train.main(argv)`` and ``mmdet_eql.apis.test.main(argv)``."""
