"""DDP on CPU: every backbone family trains under mmengine's
``MMDistributedDataParallel`` without ``find_unused_parameters``, and a
detector config trains with two processes through ``tools/dist_train.sh``
and ``mim train mmattn ... --launcher pytorch --gpus 2``.

mmengine 0.10.7 alone cannot train distributed on a machine without CUDA
(``init_dist`` calls ``torch.cuda.set_device``; ``wrap_model`` passes
``device_ids`` that DDP rejects for CPU modules), so mmattn's tools set up
gloo themselves (:func:`mmattn.cli.setup_cpu_distributed`); these tests run
that path. Each launch starts two Python processes, so the detector runs
are 2 iterations of a RetinaNet on 64×64 images (data/retinanet_...py).
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmattn_test_utils import REPO_ROOT, free_port

from .backbones import BACKBONES, DDP_EXTRA

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')
BIN = osp.dirname(sys.executable)


def _env(**extra) -> dict:
    # The venv's python first on PATH: dist_train.sh calls `python`.
    return {**os.environ, 'PATH': BIN + os.pathsep + os.environ['PATH'],
            'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1', **extra}


def _run(command, cwd, **env) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=_env(**env),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-4000:] +
                                    result.stderr[-4000:])
    return result


def test_every_backbone_trains_under_ddp_without_unused_parameters(
        tmp_path):
    _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
          '2', '--master_addr', '127.0.0.1', '--master_port',
          str(free_port()), osp.join(HERE, 'ddp_worker.py'), str(tmp_path)],
         cwd=str(tmp_path))
    for rank in (0, 1):
        with open(tmp_path / f'rank{rank}.json') as f:
            results = json.load(f)
        assert results.pop('world_size') == 2
        for name in {**BACKBONES, **DDP_EXTRA}:
            assert results.pop(name) == 'ok', name
        # The negative control shows that an unused parameter would fail.
        control = results.pop('control: unused layer')
        assert control.startswith('RuntimeError: Expected to have finished '
                                  'reduction'), control
        assert 'were not used in producing loss' in control
        # torch's SyncBatchNorm syncs GPU tensors only; reverted, it trains.
        assert results.pop('SyncBN').startswith('ValueError: SyncBatchNorm')
        assert results.pop('SyncBN reverted') == 'ok'
        assert not results


def _data_options(data_root: str) -> list:
    return [f'train_dataloader.dataset.data_root={data_root}/']


def _check_two_process_run(work_dir: str, output: str) -> None:
    """Two gloo processes trained 2 iterations with finite losses and
    mmengine's default DDP wrapper (find_unused_parameters=False)."""
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # mmengine's name for the world size
    cfg = Config.fromfile(osp.join(work_dir, osp.basename(CONFIG)))
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.find_unused_parameters is False
    runs = [d for d in os.listdir(work_dir)
            if osp.isdir(osp.join(work_dir, d))]
    assert len(runs) == 1, runs
    with open(osp.join(work_dir, runs[0], 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert [r['iter'] for r in records if 'loss' in r] == [1, 2]
    assert all(0 < loss < 100 for loss in losses), losses


def test_dist_train_sh_trains_a_detector_on_two_cpu_processes(
        shapes_data, tmp_path):
    work_dir = str(tmp_path / 'work')
    result = _run(
        [osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), CONFIG, '2',
         '--work-dir', work_dir, '--cfg-options',
         *_data_options(shapes_data)],
        cwd=str(tmp_path), PORT=str(free_port()))
    _check_two_process_run(work_dir, result.stdout + result.stderr)


def test_mim_train_with_pytorch_launcher_on_two_cpu_processes(
        shapes_data, tmp_path):
    """The same through mim (torch.distributed.launch, --local-rank), with
    DCAResNet-50 (SE) as backbone: its connections are where an unused
    layer would hide."""
    work_dir = str(tmp_path / 'work')
    result = _run(
        [osp.join(BIN, 'mim'), 'train', 'mmattn', CONFIG, '--launcher',
         'pytorch', '--gpus', '2', '--port', str(free_port()),
         '--work-dir', work_dir, '--cfg-options',
         *_data_options(shapes_data), 'model.backbone.type=DCAResNet',
         'model.backbone.plugins=None'],
        cwd=str(tmp_path))
    output = result.stdout + result.stderr
    assert 'torch.distributed.launch' in output
    _check_two_process_run(work_dir, output)
    cfg = Config.fromfile(osp.join(work_dir, osp.basename(CONFIG)))
    assert cfg.model.backbone.type == 'DCAResNet'


@pytest.mark.parametrize('launcher', ['none', 'slurm'])
def test_cpu_distributed_setup_leaves_other_launchers_alone(launcher):
    from mmattn.cli import setup_cpu_distributed
    cfg = Config(dict(launcher=launcher))
    assert setup_cpu_distributed(cfg) is False
    assert 'model_wrapper_cfg' not in cfg
