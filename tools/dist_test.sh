#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
if [ $# -lt 3 ]; then
    echo "usage: $(basename "$0") CONFIG CHECKPOINT GPUS [test.py options]" >&2
    echo "  e.g. $(basename "$0") configs/se/faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py work_dirs/se/epoch_12.pth 8" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
PORT=${PORT:-29500}
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec python -m torch.distributed.run --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
