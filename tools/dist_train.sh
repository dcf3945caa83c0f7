#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py options]
# On a machine without GPUs the processes use the gloo backend on CPU.
if [ $# -lt 2 ]; then
    echo "usage: $(basename "$0") CONFIG GPUS [train.py options]" >&2
    echo "  e.g. $(basename "$0") configs/se/faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py 8 --resume" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
PORT=${PORT:-29500}
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec python -m torch.distributed.run --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
