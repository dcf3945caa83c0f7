#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv with the pinned OpenMMLab stack.
#
# Idempotent: a stamp records the hash of every input; a second run with
# unchanged inputs only checks that mmattn imports. mmcv 2.1.0 is published as
# source only, so it is compiled once (~30 min on 2 cores) into a wheel cache
# outside the checkout, keyed on the torch build and the device kind, and
# reused by every later install.
#
# Environment:
#   MMATTN_VENV         virtualenv path            (default: <repo>/.venv)
#   MMATTN_WHEEL_CACHE  compiled mmcv wheel cache  (default: ~/.cache/mmattn/wheels)
#   MMATTN_PYTHON       interpreter for the venv   (default: python3.11)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MMATTN_VENV:-$repo/.venv}
cache=${MMATTN_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmattn/wheels}
python=${MMATTN_PYTHON:-python3.11}
stack=$repo/requirements/stack.txt

log() { printf '[bootstrap %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

inputs_hash() {
  cat "$repo/setup.py" "$repo"/requirements/*.txt "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16
}
stamp=$venv/.mmattn-bootstrap-$(inputs_hash)

if [[ -f $stamp ]] && "$venv/bin/python" -c 'import mmattn' 2>/dev/null; then
  log "environment up to date ($venv)"
  exit 0
fi

started=$SECONDS
if [[ ! -x $venv/bin/python ]]; then
  log "creating virtualenv $venv with $python"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
pip_install() {
  "${pip[@]}" install --progress-bar off -c "$stack" "$@" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

log "installing build tools and torch/torchvision (the first time downloads ~3 GB)"
pip_install -q "setuptools" wheel ninja
pip_install -q torch torchvision

torch_build=$("$venv/bin/python" -c 'import torch; print(torch.__version__)')
if [[ -n ${FORCE_CUDA:-} ]]; then
  with_cuda=$FORCE_CUDA
elif command -v nvcc >/dev/null && "$venv/bin/python" -c 'import torch,sys; sys.exit(not torch.cuda.is_available())'; then
  with_cuda=1
else
  with_cuda=0
fi
ops=$([[ $with_cuda == 1 ]] && echo cuda || echo cpu)
py_tag=$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
key_dir=$cache/mmcv-2.1.0_torch-${torch_build//+/-}_${ops}-ops_${py_tag}_$(uname -m)
wheel=$(ls "$key_dir"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)

if [[ -z $wheel ]]; then
  log "no cached mmcv wheel in $key_dir: compiling mmcv 2.1.0 with $ops ops (~30 min on 2 cores)"
  build_dir=$(mktemp -d)
  build_log=$build_dir/build.log
  (
    export MMCV_WITH_OPS=1 FORCE_CUDA=$with_cuda MAX_JOBS=${MAX_JOBS:-$(nproc)}
    "${pip[@]}" wheel -v --no-deps --no-build-isolation --no-cache-dir \
      -w "$build_dir/wheel" mmcv==2.1.0 >"$build_log" 2>&1
  ) &
  builder=$!
  build_started=$SECONDS
  while kill -0 "$builder" 2>/dev/null; do
    sleep 60
    step=$(grep -oE '^ *\[[0-9]+/[0-9]+\]' "$build_log" | tail -n1 || true)
    log "mmcv build running for $(( (SECONDS - build_started) / 60 )) min ${step:+(compile step ${step// /})}"
  done
  if ! wait "$builder"; then
    tail -n 40 "$build_log"
    log "mmcv build failed; full log: $build_log"
    exit 1
  fi
  mkdir -p "$key_dir"
  mv "$build_dir"/wheel/mmcv-2.1.0-*.whl "$key_dir/"
  wheel=$(ls "$key_dir"/mmcv-2.1.0-*.whl | head -n1)
  log "cached $wheel"
else
  log "reusing cached mmcv wheel $wheel"
fi
pip_install -q "$wheel"

log "installing mmengine, mmdet, mmpretrain, openmim and mmattn (editable)"
pip_install -q -r "$repo/requirements/mim.txt"
pip_install -q --no-deps openmim
pip_install -q mmengine mmdet mmpretrain
pip_install -q --no-build-isolation -e "$repo[tests,optional]"
# mim 0.3.9 looks for a package at <location of its dist-info>/<name>; for a
# PEP 660 editable install that is site-packages, which holds no mmattn/.
# Link the checkout's package there so `mim train mmattn ...` finds
# mmattn/.mim (imports resolve to the same files either way).
"$venv/bin/python" - "$repo" <<'PY'
import os, sys, sysconfig
link = os.path.join(sysconfig.get_paths()['purelib'], 'mmattn')
target = os.path.join(sys.argv[1], 'mmattn')
if os.path.islink(link) and os.path.realpath(link) != os.path.realpath(target):
    os.remove(link)
if not os.path.lexists(link):
    os.symlink(target, link)
PY

"$venv/bin/python" - <<'PY'
import mmcv, mmdet, mmengine, mmpretrain, torch
from mmcv.ops import nms  # fails if mmcv was built without its ops
import mmattn
print(f'[bootstrap] torch {torch.__version__}, mmcv {mmcv.__version__} (ops), '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, mmattn {mmattn.__version__}')
PY
rm -f "$venv"/.mmattn-bootstrap-*
touch "$stamp"
log "environment ready in $(( SECONDS - started )) s"
