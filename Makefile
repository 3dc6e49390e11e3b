# The two commands of the README. Both set up .venv/ first (idempotent: seconds when done).
PY := .venv/bin/python

.PHONY: setup demo test lint
setup:
	@bash tools/setup_env.sh

# The main job: the embedded long-tailed benchmark (generate, train baseline and EQL, evaluate,
# compare, plot) on this machine's CPU. Outputs under work_dirs/longtail_small/.
demo: setup
	$(PY) tools/misc/run_longtail_demo.py $(DEMO_ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m flake8 mmdet_eql tools tests configs
	$(PY) -m isort --check-only --diff mmdet_eql tools tests configs
	$(PY) -m yapf --diff --recursive --parallel mmdet_eql tools tests configs
