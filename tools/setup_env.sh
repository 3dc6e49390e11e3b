#!/usr/bin/env bash
# Creates .venv/ in the repo root and installs everything mmdet-eql needs. Idempotent: when the
# requirement files have not changed and the stack imports, it returns in seconds.
#
#   torch:  a torch already importable by python3 is kept (the venv then sees system packages, so a
#           CUDA build on a GPU machine is not replaced); otherwise torch==2.13.0 (CPU build).
#   mmcv:   2.1.0 compiled from source with its ops (11.5 minutes measured on a 2-core CPU the first
#           time; pip caches the wheel, so later installs take seconds). CUDA ops when torch has
#           CUDA and nvcc is found.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
CONSTRAINTS=requirements/constraints.txt
STAMP=$VENV/.mmdet_eql_setup
fingerprint=$(cat requirements.txt requirements/*.txt setup.cfg setup.py tools/setup_env.sh | sha256sum | cut -c1-16)

stack_ok() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import mmcv, mmdet, mmengine, mmdet_eql  # noqa: F401
from mmcv.ops import nms  # noqa: F401  (compiled ops present)
assert mmcv.__version__ == '2.1.0', mmcv.__version__
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$fingerprint" ] && stack_ok; then
  echo "[setup] .venv is up to date"
  exit 0
fi

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  if "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "[setup] keeping the installed torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "[setup] installing torch==2.13.0 (CPU build)"
  # without the constraints: torch 2.13's metadata asks for setuptools >= 77, which the next step
  # replaces by setuptools < 70 for mmcv's build and pkg_resources (pip then prints a warning)
  $PIP install torch==2.13.0
fi

echo "[setup] installing build requirements"
$PIP install -c "$CONSTRAINTS" -r requirements/build.txt

if ! "$VENV/bin/python" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' 2>/dev/null; then
  cuda_flags=()
  if "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' \
      && command -v nvcc >/dev/null; then
    cuda_flags=(FORCE_CUDA=1)
    echo "[setup] CUDA torch and nvcc found: mmcv gets CUDA ops"
  fi
  echo "[setup] building mmcv 2.1.0 with its compiled ops from source. The first build takes about"
  echo "[setup] 12 minutes on a 2-core CPU (11.5 min measured; it has not hung); pip caches the wheel."
  env MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)" "${cuda_flags[@]}" \
    $PIP install -c "$CONSTRAINTS" --no-build-isolation mmcv==2.1.0
fi

echo "[setup] installing mmdet, evaluation, plotting and test requirements"
$PIP install -c "$CONSTRAINTS" -r requirements/mminstall.txt -r requirements/runtime.txt \
  -r requirements/tests.txt
$PIP install -c "$CONSTRAINTS" --no-deps -r requirements/mim.txt
$PIP install -c "$CONSTRAINTS" --no-deps --no-build-isolation -e .

stack_ok || { echo "[setup] error: the stack does not import after installation" >&2; exit 1; }
echo "$fingerprint" > "$STAMP"
echo "[setup] done in $(( $(date +%s) - start )) s"
