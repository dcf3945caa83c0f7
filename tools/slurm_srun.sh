#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   tools/slurm_srun.sh PARTITION JOB_NAME COMMAND...
# Runs COMMAND as one srun task per GPU (OpenMMLab's Slurm convention), with
# the repository on PYTHONPATH; tools/slurm_train.sh and slurm_test.sh use it.
if [ $# -lt 3 ]; then
    echo "usage: $(basename "$0") PARTITION JOB_NAME COMMAND..." >&2
    exit 2
fi
set -x
PARTITION=$1
JOB_NAME=$2
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}

# SRUN_ARGS is split into words on purpose (e.g. "--quotatype=auto -x node1").
# shellcheck disable=SC2086
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${@:3}"
