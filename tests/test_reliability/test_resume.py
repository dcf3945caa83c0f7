"""Resuming training, and checkpoints under torch >= 2.6 (``weights_only``).

``tools/train.py`` runs in-process on the tiny RetinaNet of
data/retinanet_r50-ema_tiny_shapes.py (AttnResNet-50 with EMA; LinearLR
warm-up over the 4 iterations, SGD with momentum, shuffled sampler,
``randomness=dict(seed=0, deterministic=True)`` set here, ``num_workers=0``):

* run A trains 4 iterations uninterrupted, saving ``iter_2.pth`` on the
  way;
* run C, a new runner in a new work dir, resumes from that checkpoint
  (``--resume PATH``) and trains iterations 3-4.

C's losses (read from ``scalars.json``) must equal A's for iterations 3-4,
which needs the weights, the optimizer's momentum, the scheduler, the
sampler position and the seed all restored.

What mmengine 0.10.7 saves: ``meta``, ``state_dict``, ``optimizer``,
``param_schedulers`` (plain data) and ``message_hub``, whose history buffers
(``mmengine.logging.HistoryBuffer``: numpy arrays and method references)
weights-only loading refuses (mmattn's loaders, and ``torch.load``'s
default since torch 2.6), so mmengine's own checkpoints do not resume.
``tools/train.py`` adds :class:`mmattn.engine.WeightsOnlyCheckpointHook`,
which saves the message hub as plain data and restores it on load.
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint

from mmattn.engine import (UnsafeCheckpointError,
                           allow_unsafe_checkpoint_load, load_checkpoint_file,
                           message_hub_from_plain, message_hub_to_plain)
from mmattn_test_utils import REPO_ROOT

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')


def _load_train_tool():
    spec = importlib.util.spec_from_file_location(
        'mmattn_tools_train', osp.join(REPO_ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def runs(shapes_data, tmp_path_factory):
    """Run A (4 iterations) and run C (A's iter_2.pth resumed to 4)."""
    train = _load_train_tool().main
    root = tmp_path_factory.mktemp('resume')

    def run(name, *extra):
        return train([
            CONFIG, '--work-dir', str(root / name), *extra,
            '--cfg-options', f'train_dataloader.dataset.data_root='
            f'{shapes_data}/', 'train_cfg.max_iters=4',
            'default_hooks.checkpoint.interval=2',
            # The schedule as written (the tiny config's 2 iterations) is
            # not stretched to the run's 4: checkpoint interval 2 stays.
            'schedule_length=None',
            'randomness.deterministic=True',
            # mmdet's visualizer has a fixed instance name: another runner
            # in this process would reuse (and write into) an earlier one.
            f'experiment_name=resume_{name}', f'visualizer.name=resume_{name}'
        ])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as conftest's _one_thread, for this fixture
    try:
        runners = dict(a=run('a'))
        runners['c'] = run('c', '--resume', str(root / 'a' / 'iter_2.pth'))
    finally:
        # randomness.deterministic switched these on for the whole process.
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        torch.set_num_threads(threads)
    return runners


def _losses(runner) -> dict:
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    return {r['iter']: r['loss'] for r in records if 'loss' in r}


def test_resumed_run_continues_with_the_uninterrupted_losses(runs):
    a, c = _losses(runs['a']), _losses(runs['c'])
    assert sorted(a) == [1, 2, 3, 4]
    assert sorted(c) == [3, 4], 'the resumed run must start at iteration 3'
    for it in (3, 4):
        assert c[it] == pytest.approx(a[it], rel=1e-5, abs=1e-6), (a, c)
    # The loss moved, so equality is not trivially a constant.
    assert a[4] != a[3]


def test_checkpoint_loads_with_torch_load_defaults(runs):
    path = osp.join(runs['a'].work_dir, 'iter_2.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    checkpoint = torch.load(path)  # weights_only=True since torch 2.6
    assert set(checkpoint) == {'meta', 'state_dict', 'message_hub',
                               'optimizer', 'param_schedulers'}
    assert checkpoint['meta']['iter'] == 2
    buffers = checkpoint['message_hub']['log_scalars']
    assert buffers['train/loss']['log_history'].shape == (2, )


def test_mmengine_load_checkpoint_reads_it_strictly(runs):
    model = runs['a'].model
    path = osp.join(runs['a'].work_dir, 'iter_2.pth')
    checkpoint = load_checkpoint(model, path, map_location='cpu',
                                 strict=True)
    assert checkpoint['meta']['iter'] == 2
    state = torch.load(path)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_resume_restores_the_message_hub_history(runs):
    hub = runs['c'].message_hub
    loss = hub.get_scalar('train/loss')
    assert isinstance(loss, HistoryBuffer)
    # iterations 1-2 from the checkpoint, 3-4 from the resumed run
    assert len(loss.data[0]) == 4


def test_message_hub_round_trip():
    buffer = HistoryBuffer([1.0, 2.5], [1, 2], max_length=10)
    state = dict(log_scalars={'train/loss': buffer},
                 runtime_info={'eta': torch.tensor(1.0).numpy()[()],
                               'iter': 3},
                 resumed_keys={'train/loss': True})
    plain = message_hub_to_plain(state)
    assert plain['runtime_info']['eta'] == 1.0
    assert type(plain['runtime_info']['eta']) is float
    restored = message_hub_from_plain(plain)['log_scalars']['train/loss']
    assert restored.max_length == 10
    for got, want in zip(restored.data, buffer.data):
        assert got.tolist() == want.tolist()


def test_plain_mmengine_message_hub_needs_full_unpickling(tmp_path):
    """Documents the failure the hook avoids, and the per-use opt-in for
    checkpoints saved without it (only for files you trust)."""
    path = str(tmp_path / 'legacy.pth')
    torch.save({'message_hub': {'log_scalars': {
        'train/loss': HistoryBuffer([1.0], [1])}}}, path)
    with pytest.raises(UnsafeCheckpointError, match='HistoryBuffer'):
        load_checkpoint_file(path)
    with allow_unsafe_checkpoint_load():
        legacy = load_checkpoint_file(path)
    assert isinstance(legacy['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)
