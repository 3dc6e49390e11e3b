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
source "$(dirname "$0")/_launch.sh"
usage_unless 4 $# "$0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py arguments ...]"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
launch_srun "$PARTITION" "$JOB_NAME" train.py "$CONFIG" --work-dir="$WORK_DIR" "$@"
