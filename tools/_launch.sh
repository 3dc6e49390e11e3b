# Shared by tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh (sourced, not run).
# Sets ROOT, DIR and PYTHON (the repository's .venv/bin/python when it exists, else python;
# an exported PYTHON wins) and puts the repository on PYTHONPATH.
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$DIR")
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# usage_unless MIN_ARGS NUM_ARGS USAGE: exits 2 with the usage line when too few arguments
usage_unless() {
    if [ "$2" -lt "$1" ]; then
        echo "usage: $3" >&2
        exit 2
    fi
}

# launch_torchrun NPROC ENTRY ARGS...: torchrun with NNODES, NODE_RANK, MASTER_ADDR and PORT
launch_torchrun() {
    local nproc=$1 entry=$2
    shift 2
    case "$nproc" in
        ''|*[!0-9]*|0) echo "error: NUM_PROCS_PER_NODE must be a positive integer, got '$nproc'" >&2; exit 2;;
    esac
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$nproc" \
        --master_port="${PORT:-29500}" \
        "$DIR/$entry" "$@" --launcher pytorch
}

# launch_srun PARTITION JOB_NAME ENTRY ARGS...: srun with GPUS, GPUS_PER_NODE, CPUS_PER_TASK,
# SRUN_ARGS and GRES (gpu:GPUS_PER_NODE; empty for CPU-only nodes)
launch_srun() {
    local partition=$1 job_name=$2 entry=$3
    shift 3
    local gpus=${GPUS:-8}
    local per_node=${GPUS_PER_NODE:-$(( gpus < 8 ? gpus : 8 ))}
    local gres=${GRES-gpu:${per_node}}
    export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}
    # shellcheck disable=SC2086  # SRUN_ARGS is a list of flags
    exec srun -p "$partition" \
        --job-name="$job_name" \
        ${gres:+--gres="$gres"} \
        --ntasks="$gpus" \
        --ntasks-per-node="$per_node" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "$PYTHON" -u "$DIR/$entry" "$@" --launcher=slurm
}
