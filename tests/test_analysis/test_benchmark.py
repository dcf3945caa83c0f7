import json

import pytest

from mmattn.analysis.benchmark import with_baselines
from mmattn.analysis.models import resolve


def test_baselines_are_added_once():
    specs = [resolve('se-r18'), resolve('eca-r18'), resolve('r50')]
    entries = with_baselines(specs)
    assert [(s.name, added) for s, added in entries] == [
        ('se-r18', False), ('eca-r18', False), ('r50', False),
        ('r18', True)]


def test_two_tiny_models_against_resnet(load_tool, tmp_path, capsys):
    tool = load_tool('analysis/benchmark.py')
    out = tmp_path / 'bench.json'
    code = tool.main(['se-r18', 'eca-r18', '--input-size', '32',
                      '--batch-size', '1', '--warmup', '0', '--repeats', '1',
                      '--json', str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert 'time vs ResNet' in table and '`r18 (baseline)`' in table
    data = json.loads(out.read_text())
    by_name = {m['name']: m for m in data['measurements']}
    assert set(by_name) == {'se-r18', 'eca-r18', 'r18'}
    for name, measurement in by_name.items():
        assert measurement['baseline'] == 'r18'
        for mode in ('forward', 'train'):
            assert len(measurement['times'][mode]) == 1
            assert measurement['median_s'][mode] > 0
            assert measurement['throughput'][mode] > 0
            assert measurement['ratio'][mode] > 0
    assert by_name['r18']['ratio']['forward'] == pytest.approx(1.0)
    assert by_name['se-r18']['params'] > by_name['r18']['params']


def test_detector_baselines():
    # A named detector on a plain ResNet is its own baseline.
    entries = with_baselines([resolve('mask-rcnn:r18')])
    assert [(s.name, added) for s, added in entries] == [
        ('mask-rcnn:r18', False)]
    entries = with_baselines([resolve('faster-rcnn:se-r18')])
    assert [(s.name, added) for s, added in entries] == [
        ('faster-rcnn:se-r18', False), ('faster-rcnn:r18', True)]
    # The ResNet-18 detectors get ResNet-18's FPN input widths.
    neck = entries[1][0].cfg['neck']
    assert neck['in_channels'] == [64, 128, 256, 512]
