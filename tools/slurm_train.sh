#!/usr/bin/env bash
# Training under Slurm with srun, one task per GPU (mmengine reads SLURM_PROCID, SLURM_NTASKS,
# SLURM_NODELIST; on nodes without CUDA the tasks are CPU processes with the gloo backend).
#
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py arguments ...]
#
# Environment: GPUS (tasks in all, 8), GPUS_PER_NODE (tasks per node, min(GPUS, 8)),
# CPUS_PER_TASK (5), SRUN_ARGS (extra srun flags, e.g. "--quotatype=auto"),
# GRES (gpu:GPUS_PER_NODE; set it empty for CPU-only nodes), PORT (MASTER_PORT, 29500),
# PYTHON (python by default; the repo's .venv/bin/python when it exists).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py arguments ...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
GRES=${GRES-gpu:${GPUS_PER_NODE}}
DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$DIR")
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# shellcheck disable=SC2086  # SRUN_ARGS is a list of flags
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "$@"
