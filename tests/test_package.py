import ast
import glob
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

import mmattn
from mmattn_test_utils import REPO_ROOT


def test_version_is_exposed():
    assert mmattn.__version__.count('.') == 2


def test_stack_check_names_wrong_versions(monkeypatch):
    monkeypatch.setattr(mmattn, 'installed_version',
                        lambda name: '2.2.0' if name == 'mmcv' else '9.9.9')
    with pytest.raises(ImportError) as info:
        mmattn._check_stack()
    message = str(info.value)
    assert 'mmcv 2.2.0 is installed, mmattn needs >=2.1.0,<2.2.0' in message
    assert 'mmdet 9.9.9' in message


def test_regular_wheel_ships_configs_and_tools_under_mim(tmp_path):
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(tmp_path), REPO_ROOT],
        check=True, capture_output=True)
    wheel, = tmp_path.glob('mmattn-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    assert 'mmattn/.mim/tools/train.py' in names
    assert 'mmattn/.mim/configs/se/faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py' \
        in names
    assert 'mmattn/.mim/model-index.yml' in names
    assert 'mmattn/registry.py' in names


#: What mmattn/models may not import: everything above it.
ABOVE_MODELS = ('mmattn.analysis', 'mmattn.deployment', 'mmattn.engine',
                'mmattn.cli', 'mmattn.convert', 'mmattn.demo', 'tools')


def _imported_modules(path: str, package: str):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.rsplit('.', node.level - 1)[0]
                yield f'{base}.{node.module}' if node.module else base
            else:
                yield node.module


def test_models_import_nothing_above_them():
    models = osp.join(REPO_ROOT, 'mmattn', 'models')
    offending = []
    for path in glob.glob(osp.join(models, '**', '*.py'), recursive=True):
        relative = osp.relpath(osp.dirname(path), REPO_ROOT)
        package = relative.replace(osp.sep, '.')
        for name in _imported_modules(path, package):
            if name.startswith(ABOVE_MODELS):
                offending.append(f'{osp.relpath(path, REPO_ROOT)}: {name}')
    assert len(glob.glob(osp.join(models, '**', '*.py'),
                         recursive=True)) > 25  # the walk saw the package
    assert offending == []
