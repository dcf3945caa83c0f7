import json

import pytest
import torch
from torch import nn

from mmattn.analysis.complexity import count_ops, measure, paper_table
from mmattn.analysis.models import resolve
from mmattn.models.attention import SE, DAPositionAttention


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
    inputs = torch.zeros(shape, device='meta')
    return count_ops(module, lambda: module(inputs))


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
    """Meta tensors (math-path attention) count the MACs and softmax that a
    real CPU forward (fused SDPA kernel) runs."""
    counts = {}
    for device in ('meta', 'cpu'):
        with torch.device(device):
            module = DAPositionAttention(64).eval()
        inputs = torch.zeros(1, 64, 16, 16, device=device)
        counts[device] = count_ops(module, lambda: module(inputs))
    assert counts['meta'].macs == counts['cpu'].macs
    assert counts['cpu'].macs['matmul'] > 0
    assert counts['meta'].elements['softmax'] == \
        counts['cpu'].elements['softmax'] > 0


@pytest.mark.parametrize('groups', [1, 4, 32])
def test_grouped_convolution(groups):
    """Each of the g groups maps C_in/g channels to C_out/g: C_out·C_in/g·k²
    MACs per output position."""
    with torch.device('meta'):
        conv = nn.Conv2d(32, 64, 3, padding=1, groups=groups)
    counts = _count(conv, (2, 32, 10, 12))
    assert counts.macs == dict(conv=2 * 10 * 12 * 64 * (32 // groups) * 9,
                               fc=0, matmul=0)


class _LinearAndProduct(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(16, 4, bias=False))

    def forward(self, x):
        y = self.fc(x)  # (B, N, 16)
        affinity = y @ y.transpose(1, 2)  # (B, N, N)
        return self.head(affinity @ y)


def test_linear_products_apart_from_other_products():
    with torch.device('meta'):
        module = _LinearAndProduct()
    batch, positions = 3, 5
    counts = _count(module, (batch, positions, 8))
    rows = batch * positions
    assert counts.macs == dict(
        conv=0, fc=rows * 8 * 16 + rows * 16 * 4,
        matmul=2 * batch * positions * positions * 16)
    # The bias of fc is part of addmm; ReLU writes B·N·16 elements.
    assert counts.elements['activation'] == rows * 16


def test_upsampling_counts_its_output():
    """FlopCounterMode decomposes ops it has no formula for: an upsampling
    must still count as its output, not as the indexing it becomes."""
    counts = _count(nn.Upsample(scale_factor=2), (1, 4, 5, 6))
    assert counts.elements == dict(arithmetic=0, activation=0, norm=0,
                                   softmax=0, reduce=0, resample=4 * 10 * 12)


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
