import json

import pytest
import torch
from torch import nn

from mmattn.analysis.complexity import OpCounter, measure, paper_table
from mmattn.analysis.models import resolve
from mmattn.models.attention import DMSA, SE


def _se_macs(channels, reduction=16):
    return 2 * channels * (channels // reduction)


def test_resnet50_classifier():
    result = measure(resolve('r50'))
    assert result.params == 25_557_032  # torchvision's ResNet-50
    assert result.conv_fc_macs == pytest.approx(4.1e9, rel=0.02)
    assert result.matmul_macs == 0
    assert 0 < result.total_elements < 0.01 * result.conv_fc_macs


def test_se_adds_exactly_its_fc_macs():
    plain = measure(resolve('r50'))
    with_se = measure(resolve('se-r50'))
    # Two FCs (1x1 convs on the pooled vector) per bottleneck, C = 4·planes.
    blocks = {256: 3, 512: 4, 1024: 6, 2048: 3}
    formula = sum(n * _se_macs(c) for c, n in blocks.items())
    assert with_se.conv_fc_macs - plain.conv_fc_macs == formula == 2_514_944
    assert with_se.params - plain.params == sum(
        n * (2 * c * (c // 16) + c // 16 + c) for c, n in blocks.items())
    # SE's pooling, sigmoid and multiplication are elementwise work.
    assert with_se.total_elements > plain.total_elements


def _count(module, shape):
    with torch.no_grad(), OpCounter() as counter:
        module(torch.zeros(shape, device='meta'))
    return counter


def test_elementwise_separate_from_macs():
    shape = (1, 256, 56, 56)
    with torch.device('meta'):
        se, conv = SE(256), nn.Conv2d(256, 256, 3, padding=1, bias=False)
    se_counts = _count(se, shape)
    assert sum(se_counts.macs.values()) == _se_macs(256)
    # GAP reads the map, the gate multiplies it: at least 2·C·H·W.
    assert sum(se_counts.elements.values()) >= 2 * 256 * 56 * 56
    assert se_counts.elements['reduce'] == 256 * 56 * 56
    conv_counts = _count(conv, shape)
    assert conv_counts.macs['conv'] == 256 * 256 * 9 * 56 * 56
    assert sum(conv_counts.elements.values()) == 0


def test_meta_and_cpu_counts_agree():
    """Meta tensors (math-path attention) count the MACs that a real CPU
    forward (fused SDPA kernel) runs."""
    counts = {}
    for device in ('meta', 'cpu'):
        with torch.device(device):
            module = DMSA(64, 64).eval()
        with torch.no_grad(), OpCounter() as counter:
            module(torch.zeros(1, 64, 16, 16, device=device))
        counts[device] = dict(counter.macs)
    assert counts['meta'] == counts['cpu']
    assert counts['cpu']['matmul'] > 0


def test_detector_matches_mmdet_get_flops():
    result = measure(resolve('faster-rcnn:r50'), input_size=(1280, 800))
    # The papers' Faster R-CNN R-50-FPN: 41.53 M (trainable), 207.07 G.
    assert result.trainable_params / 1e6 == pytest.approx(41.53, abs=0.01)
    assert result.conv_fc_macs / 1e9 == pytest.approx(207.07, rel=0.01)
    assert result.params > result.trainable_params  # frozen stage 1


def test_paper_table_has_epsanet50_small(load_tool, capsys):
    tool = load_tool('analysis/complexity.py')
    assert tool.main(['--paper', '--only', r'EPSANet-50 \(Small\)']) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines()
            if '`epsanet50-s`' in line and '224×224' in line]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip('|').split('|')]
    paper, ours = float(cells[4]), float(cells[5])
    assert paper == 22.56
    assert ours == pytest.approx(22.56, rel=0.01)
    assert '`faster-rcnn:epsanet50-s`' in out


def test_paper_table_function_returns_rows():
    text, results = paper_table(only='DCA-CBAM')
    assert results and all(r.params > 0 for r in results)
    assert 'DCANet Table 1' in text


def test_cli_models_and_json(load_tool, tmp_path, capsys):
    tool = load_tool('analysis/complexity.py')
    out = tmp_path / 'c.json'
    assert tool.main(['r18', 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
                      '--input-size', '64', '--json', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'elementwise' in text and 'conv+fc' in text
    data = json.loads(out.read_text())
    assert [d['kind'] for d in data] == ['classifier', 'detector']
    assert data[0]['params'] == 11_689_512
    assert all(d['conv_fc_macs'] > 0 for d in data)
