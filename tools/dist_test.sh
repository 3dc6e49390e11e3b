#!/usr/bin/env bash
# Distributed testing with torchrun, one process per GPU (on a machine without CUDA: CPU
# processes with the gloo backend).
#
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS_PER_NODE [tools/test.py arguments ...]
#
# Several nodes: run it on each with NNODES, NODE_RANK, MASTER_ADDR and PORT set.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (the interpreter: python by default; the repo's .venv/bin/python when it exists).
set -euo pipefail
source "$(dirname "$0")/_launch.sh"
usage_unless 3 $# "$0 CONFIG CHECKPOINT NUM_PROCS_PER_NODE [tools/test.py arguments ...]"
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
launch_torchrun "$NPROC" test.py "$CONFIG" "$CHECKPOINT" "$@"
