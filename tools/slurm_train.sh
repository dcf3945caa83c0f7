#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# OpenMMLab's Slurm convention: one srun task per GPU, each running
# tools/train.py with --launcher slurm (mmengine reads SLURM_PROCID etc.).
if [ $# -lt 4 ]; then
    echo "usage: $(basename "$0") PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
    echo "  environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS" >&2
    exit 2
fi
TOOLS=$(dirname "$0")
exec "$TOOLS/slurm_srun.sh" "$1" "$2" python -u "$TOOLS/train.py" "$3" \
    --work-dir="$4" --launcher=slurm "${@:5}"
