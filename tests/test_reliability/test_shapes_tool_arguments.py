"""tools/misc/generate_shapes_dataset.py refuses bad arguments before
writing anything (``--num-train -1`` used to write an empty split and exit
0)."""
import json
import os.path as osp
import runpy
import sys

import pytest

from mmattn_test_utils import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'generate_shapes_dataset.py')


def run_tool(monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', [TOOL, *argv])
    runpy.run_path(TOOL, run_name='__main__')


@pytest.mark.parametrize('argv,message', [
    (['--num-train', '-1'],
     "argument --num-train: '-1' is invalid; it must be an integer >= 1"),
    (['--num-val', '0'],
     "argument --num-val: '0' is invalid; it must be an integer >= 1"),
    (['--num-train', '1e3'],
     "argument --num-train: '1e3' is invalid; it must be an integer >= 1"),
    (['--image-size', '64', '0'],
     "argument --image-size: '0' is invalid; it must be an integer >= 4"),
    (['--image-size', '32', '48'],
     'argument --size-range: 24 64 is invalid; shapes must fit in the '
     'image, so MAX must not exceed the smaller side of --image-size 32 48'),
    (['--size-range', '30', '20'],
     'argument --size-range: 30 20 is invalid; MIN must not exceed MAX'),
    (['--max-objects', '0'],
     "argument --max-objects: '0' is invalid; it must be an integer >= 1"),
    (['--seed', '-3'],
     "argument --seed: '-3' is invalid; it must be an integer >= 0"),
])
def test_bad_arguments_exit_2_naming_them_and_write_nothing(
        argv, message, tmp_path, monkeypatch, capsys):
    root = tmp_path / 'shapes'
    with pytest.raises(SystemExit) as info:
        run_tool(monkeypatch, str(root), *argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(message)
    assert not root.exists()


def test_valid_arguments_write_both_splits(tmp_path, monkeypatch, capsys):
    root = tmp_path / 'shapes'
    run_tool(monkeypatch, str(root), '--num-train', '2', '--num-val', '1',
             '--image-size', '48', '40', '--size-range', '8', '24')
    for split, count in (('train', 2), ('val', 1)):
        with open(root / 'annotations' / f'{split}.json') as f:
            images = json.load(f)['images']
        assert len(images) == count
        assert {(i['height'], i['width']) for i in images} == {(48, 40)}
    assert 'train:' in capsys.readouterr().out
