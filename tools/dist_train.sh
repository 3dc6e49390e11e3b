#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU (on a machine without CUDA: CPU
# processes with the gloo backend).
#
#   tools/dist_train.sh CONFIG NUM_PROCS_PER_NODE [tools/train.py arguments ...]
#
# Several nodes: run it on each with NNODES, NODE_RANK, MASTER_ADDR and PORT set, e.g.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.1.1.1 PORT=29500 tools/dist_train.sh CONFIG 8
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (the interpreter: python by default; the repo's .venv/bin/python when it exists).
set -euo pipefail
source "$(dirname "$0")/_launch.sh"
usage_unless 2 $# "$0 CONFIG NUM_PROCS_PER_NODE [tools/train.py arguments ...]"
CONFIG=$1
NPROC=$2
shift 2
launch_torchrun "$NPROC" train.py "$CONFIG" "$@"
