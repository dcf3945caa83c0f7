"""Loading a checkpoint never runs code from it (mmattn.engine.loading).

One malicious checkpoint (its unpickling writes a marker file; otherwise a
valid checkpoint of the tiny detector) is fed to every load path: the
library's ``load_checkpoint`` and ``init_cfg=dict(type='Pretrained')``,
``tools/test.py``, ``tools/train.py`` (``--resume PATH``, ``load_from``,
the backbone's ``init_cfg``), Grad-CAM, attention maps and the ONNX export
of a backbone and of a detector; each from three sources: a local file,
``torchvision://resnet18`` out of the hub cache (``TORCH_HOME`` in a
temporary directory) and an ``http://127.0.0.1:<port>/`` URL served by the
test. The marker is never written, the tool exits with code 2 and prints
one line naming the file and the opt-in. With the opt-in (command-line flag,
config key, context manager) the same file loads, after a warning naming
it.
"""
import functools
import http.server
import logging
import os
import os.path as osp
import runpy
import shutil
import sys
import threading
import types

import pytest
import torch
from mmengine.fileio.backends import registry_utils
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint

from mmattn.cli import run_main
from mmattn.engine import (UNSAFE_CONFIG_KEY, UNSAFE_FLAG,
                           UnsafeCheckpointError,
                           allow_unsafe_checkpoint_load, load_checkpoint_file)
from mmattn.registry import MODELS
from mmattn_test_utils import REPO_ROOT

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')
#: The URL mmengine's torchvision table gives torchvision://resnet18.
RESNET18_FILE = 'resnet18-f37072fd.pth'
BACKBONE = dict(type='AttnResNet', depth=18, base_channels=8)


class Payload:
    """Unpickling it opens (creates) ``marker`` for writing."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, 'w')


@pytest.fixture
def marker(tmp_path):
    return str(tmp_path / 'code-ran')


@pytest.fixture
def malicious(tmp_path, marker):
    """A checkpoint with the weights of a small AttnResNet-18 and the
    payload."""
    path = str(tmp_path / 'malicious.pth')
    state = MODELS.build(BACKBONE).state_dict()
    torch.save({'state_dict': state, 'meta': {}, 'payload': Payload(marker)},
               path)
    return path


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / 'torch_home'
    monkeypatch.setenv('TORCH_HOME', str(home))
    return home


@pytest.fixture
def http_root(tmp_path):
    """A directory served at http://127.0.0.1:<port>/ for the test."""
    root = tmp_path / 'served'
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.fixture(params=['local', 'hub-cache', 'http'])
def source(request, malicious, torch_home, http_root):
    """(what the user names, the file the error must name)."""
    if request.param == 'local':
        return malicious, malicious
    if request.param == 'hub-cache':
        cached = torch_home / 'hub' / 'checkpoints' / RESNET18_FILE
        cached.parent.mkdir(parents=True)
        shutil.copy(malicious, cached)
        return 'torchvision://resnet18', 'torchvision://resnet18'
    root, url = http_root
    shutil.copy(malicious, root / 'weights.pth')
    return f'{url}/weights.pth', f'{url}/weights.pth'


def _assert_refused(message: str, named: str, marker: str) -> None:
    assert not osp.exists(marker), 'the checkpoint ran code'
    lines = message.strip().splitlines()
    assert len(lines) == 1, message
    assert named in lines[0] and 'needs full unpickling' in lines[0]
    assert UNSAFE_FLAG in lines[0] and UNSAFE_CONFIG_KEY in lines[0]


def _tool(*parts):
    return runpy.run_path(osp.join(REPO_ROOT, 'tools', *parts))


def _train_argv(work_dir, shapes_data, *extra, options=(), config=CONFIG):
    name = osp.basename(str(work_dir))
    return [config, '--work-dir', str(work_dir), *extra, '--cfg-options',
            f'train_dataloader.dataset.data_root={shapes_data}/',
            'train_cfg.max_iters=1', f'experiment_name=safety_{name}',
            f'visualizer.name=safety_{name}', *options]


def _run(capsys, main, argv):
    code = run_main(main, argv)
    return code, capsys.readouterr().err


# --- the library ---


def test_mmengine_load_checkpoint(source, marker):
    name, named = source
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(MODELS.build(BACKBONE), name, map_location='cpu')
    _assert_refused(str(info.value), named, marker)


def test_backbone_pretrained_init_cfg_through_the_library(source, marker):
    name, named = source
    model = MODELS.build(dict(BACKBONE, init_cfg=dict(
        type='Pretrained', checkpoint=name)))
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    _assert_refused(str(info.value), named, marker)


def test_torch_env_switch_does_not_reopen_the_loaders(source, marker,
                                                      monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    name, named = source
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(MODELS.build(BACKBONE), name, map_location='cpu')
    _assert_refused(str(info.value), named, marker)


@pytest.mark.parametrize('name, table_file', [
    ('open-mmlab://resnet50_v1c', 'resnet50_v1c-2cccc1ad.pth'),
    ('mmcls://resnet50', 'resnet50_8xb32_in1k_20210831-ea4938fc.pth'),
])
def test_openmmlab_and_mmcls_names_from_the_hub_cache(name, table_file,
                                                      malicious, marker,
                                                      torch_home):
    cached = torch_home / 'hub' / 'checkpoints' / table_file
    cached.parent.mkdir(parents=True)
    shutil.copy(malicious, cached)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(MODELS.build(BACKBONE), name, map_location='cpu')
    _assert_refused(str(info.value), name, marker)


def test_object_store_and_pavi_loaders(malicious, marker, monkeypatch):
    """s3/petrel through mmengine's file backend and pavi's model cloud,
    each replaced by a stand-in serving the malicious bytes."""

    class Store:
        def __init__(self, **kwargs):
            pass

        def get(self, filepath):
            with open(malicious, 'rb') as f:
                return f.read()

    monkeypatch.setitem(registry_utils.backends, 'petrel', Store)
    cloud = types.SimpleNamespace(get=lambda path: types.SimpleNamespace(
        download=lambda dst: shutil.copy(malicious, dst)))
    monkeypatch.setitem(sys.modules, 'pavi',
                        types.SimpleNamespace(modelcloud=cloud))
    for name in ('s3://bucket/weights.pth', 'cluster:s3://bucket/w.pth',
                 'petrel://bucket/w.pth', 'pavi://project/w.pth'):
        with pytest.raises(UnsafeCheckpointError) as info:
            load_checkpoint(MODELS.build(BACKBONE), name)
        _assert_refused(str(info.value), name, marker)


def test_opt_in_loads_with_a_warning_naming_the_file(malicious, marker):
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        with allow_unsafe_checkpoint_load():
            checkpoint = load_checkpoint_file(malicious)
    finally:
        logger.removeHandler(handler)
    assert osp.exists(marker), 'the opt-in loads the full pickle'
    assert set(checkpoint) == {'state_dict', 'meta', 'payload'}
    assert [r.getMessage().split(':')[0] for r in records] == [
        f'checkpoint {malicious}']
    assert 'loading with full unpickling' in records[0].getMessage()
    os.remove(marker)
    with allow_unsafe_checkpoint_load(), allow_unsafe_checkpoint_load(False):
        with pytest.raises(UnsafeCheckpointError):
            load_checkpoint_file(malicious)
    assert not osp.exists(marker)


# --- the tools ---


def test_tools_test(source, marker, capsys, tmp_path, shapes_data):
    name, named = source
    code, err = _run(capsys, _tool('test.py')['main'], [
        CONFIG, name, '--work-dir', str(tmp_path / 'test'), '--cfg-options',
        f'test_dataloader.dataset.data_root={shapes_data}/',
        f'test_evaluator.ann_file={shapes_data}/annotations/val.json',
        f'visualizer.name=safety_test_{osp.basename(str(tmp_path))}'])
    assert code == 2
    _assert_refused(err, named, marker)


@pytest.mark.parametrize('how', ['resume', 'load_from', 'init_cfg'])
def test_tools_train(how, source, marker, capsys, tmp_path, shapes_data):
    name, named = source
    config = tmp_path / 'pretrained.py'
    config.write_text(
        f'_base_ = {CONFIG!r}\nmodel = dict(backbone=dict(init_cfg=dict('
        f"_delete_=True, type='Pretrained', checkpoint={name!r})))\n")
    extra, options, config = {
        'resume': (['--resume', name], [], CONFIG),
        'load_from': ([], [f'load_from={name}'], CONFIG),
        'init_cfg': ([], [], str(config)),
    }[how]
    argv = _train_argv(tmp_path / how, shapes_data, *extra, options=options,
                       config=config)
    code, err = _run(capsys, _tool('train.py')['main'], argv)
    assert code == 2
    _assert_refused(err, named, marker)


@pytest.mark.parametrize('tool', ['gradcam.py', 'attention_maps.py'])
def test_picture_tools(tool, source, marker, capsys, tmp_path):
    name, named = source
    code, err = _run(capsys, _tool('visualization', tool)['main'], [
        'se-r18', '--checkpoint', name, '--input-size', '32',
        '--out' if tool == 'gradcam.py' else '--out-dir',
        str(tmp_path / 'out')])
    assert code == 2
    _assert_refused(err, named, marker)


@pytest.mark.parametrize('kind', ['backbone', 'detector'])
def test_onnx_export(kind, source, marker, capsys, tmp_path):
    name, named = source
    model = 'AttnResNet' if kind == 'backbone' else CONFIG
    options = ['--cfg-options', 'depth=18'] if kind == 'backbone' else []
    code, err = _run(capsys, _tool('deployment', 'export_onnx.py')['main'], [
        kind, model, '--checkpoint', name, '--out',
        str(tmp_path / 'model.onnx'), *options])
    assert code == 2
    _assert_refused(err, named, marker)


def test_tool_flag_and_config_key_opt_in(malicious, marker, capsys, tmp_path,
                                         shapes_data):
    code, err = _run(capsys, _tool('deployment', 'export_onnx.py')['main'], [
        'backbone', 'AttnResNet', '--cfg-options', 'depth=18',
        'base_channels=8', '--checkpoint', malicious, UNSAFE_FLAG, '--out',
        str(tmp_path / 'model.onnx')])
    assert code == 0, err
    assert osp.exists(marker)
    os.remove(marker)

    argv = _train_argv(tmp_path / 'opt_in', shapes_data,
                       options=[f'load_from={malicious}',
                                f'{UNSAFE_CONFIG_KEY}=True'])
    code, err = _run(capsys, _tool('train.py')['main'], argv)
    assert code == 0, err
    assert osp.exists(marker)
