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
