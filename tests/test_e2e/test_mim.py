"""`mim train mmattn <config>` from the editable install."""
import os
import os.path as osp
import subprocess
import sys

from mmattn_test_utils import (REPO_ROOT, FASTER_RCNN_CPU_OPTIONS, as_cli_options,
                      tiny_detection_options)

MIM = osp.join(osp.dirname(sys.executable), 'mim')


def test_mim_extension_links_configs_and_tools():
    import mmattn
    mim_dir = osp.join(osp.dirname(mmattn.__file__), '.mim')
    for name in ('configs', 'tools', 'model-index.yml'):
        assert osp.samefile(osp.join(mim_dir, name),
                            osp.join(REPO_ROOT, name))


def _mim(arguments, cwd):
    return subprocess.run([MIM, *arguments], capture_output=True, text=True,
                          cwd=cwd, timeout=900,
                          env={**os.environ, 'PYTHONUNBUFFERED': '1'})


def test_mim_train_then_test_a_config_by_basename(shapes_data, tmp_path):
    config = 'faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py'
    work_dir = str(tmp_path / 'work')
    options = as_cli_options({**tiny_detection_options(shapes_data, work_dir),
                              **FASTER_RCNN_CPU_OPTIONS})
    result = _mim(['train', 'mmattn', config, '--cfg-options', *options],
                  str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    assert osp.exists(checkpoint), result.stdout[-2000:]
    assert 'coco/bbox_mAP' in result.stdout + result.stderr

    result = _mim(['test', 'mmattn', config, '--checkpoint', checkpoint,
                   '--cfg-options', *options], str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'Load checkpoint from {checkpoint}' in result.stdout + result.stderr
    assert 'coco/bbox_mAP' in result.stdout + result.stderr
