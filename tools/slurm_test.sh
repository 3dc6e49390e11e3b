#!/usr/bin/env bash
# Testing under Slurm with srun, one task per GPU (on nodes without CUDA: CPU processes with the
# gloo backend).
#
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py arguments ...]
#
# Environment: as tools/slurm_train.sh (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, GRES, PORT,
# PYTHON).
set -euo pipefail
source "$(dirname "$0")/_launch.sh"
usage_unless 4 $# "$0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py arguments ...]"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
launch_srun "$PARTITION" "$JOB_NAME" test.py "$CONFIG" "$CHECKPOINT" "$@"
