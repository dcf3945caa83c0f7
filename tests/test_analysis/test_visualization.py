import json

import cv2
import numpy as np
import pytest
import torch

from mmattn.analysis.attention_maps import capture_attention
from mmattn.models.attention import CBAM, EMA


def test_gradcam_heatmap(load_tool, tmp_path):
    tool = load_tool('visualization/gradcam.py')
    out = tmp_path / 'cam.png'
    assert tool.main(['se-r18', '--input-size', '64', '96',
                      '--out', str(out)]) == 0
    image = cv2.imread(str(out))
    assert image.shape == (64, 96, 3)
    heatmap = np.load(tmp_path / 'cam.npy')
    assert heatmap.shape == (64, 96)
    assert heatmap.min() == 0 and heatmap.max() == pytest.approx(1)
    assert heatmap.std() > 0.05


def test_gradcam_detector_backbone(load_tool, tmp_path):
    tool = load_tool('visualization/gradcam.py')
    out = tmp_path / 'det.png'
    assert tool.main(['r18', '--kind', 'backbone', '--output-index', '1',
                      '--input-size', '64', '--out', str(out)]) == 0
    assert cv2.imread(str(out)).shape == (64, 64, 3)
    assert np.load(tmp_path / 'det.npy').std() > 0


@pytest.mark.parametrize('model, suffixes', [
    ('cbam-r18', ['spatial']),
    ('ema-r18', ['spatial']),
    ('emca-se-r18', ['channel']),
    ('dca-se-r18', ['channel', 'dca']),
])
def test_attention_map_pngs(load_tool, tmp_path, model, suffixes):
    tool = load_tool('visualization/attention_maps.py')
    assert tool.main([model, '--input-size', '64', '--out-dir',
                      str(tmp_path)]) == 0
    for suffix in suffixes:
        path = tmp_path / f'{model}_{suffix}.png'
        image = cv2.imread(str(path))
        assert image is not None and image.size > 0 and image.std() > 0
    if 'dca' in suffixes:
        connections = json.loads((tmp_path / f'{model}_dca.json').read_text())
        # ResNet-18: 8 blocks, the first unconnected.
        assert [c['connection'] for c in connections] == list(range(1, 8))
        for connection in connections:
            assert connection['weight_ratio'] == pytest.approx(0.5)
            assert 0 <= connection['activation_ratio'] <= 1


def test_captured_maps_are_the_modules_own():
    torch.manual_seed(0)
    x = torch.randn(2, 64, 12, 10)
    ema, cbam = EMA(64, factor=8).eval(), CBAM(64).eval()
    torch.nn.init.normal_(cbam.spatial_bn.weight)
    records = capture_attention(ema, lambda: ema(x))
    records += capture_attention(cbam, lambda: cbam(x))
    ema_map, cbam_map = records[0].value, records[1].value
    # EMA: out = g·σ(w), one σ(w) per group and position.
    g = x.reshape(2 * 8, 8, 12, 10)
    pooled_h, pooled_w = g.mean(3, keepdim=True), g.mean(2, keepdim=True)
    hw = ema.conv1x1(torch.cat([pooled_h, pooled_w.transpose(2, 3)], 2))
    gate_h, gate_w = torch.split(hw, [12, 10], dim=2)
    x1 = ema.gn(g * gate_h.sigmoid() * gate_w.transpose(2, 3).sigmoid())
    x2 = ema.conv3x3(g)
    a1 = x1.mean((2, 3)).softmax(-1).unsqueeze(1)
    a2 = x2.mean((2, 3)).softmax(-1).unsqueeze(1)
    weights = a1 @ x2.flatten(2) + a2 @ x1.flatten(2)
    expected = weights.sigmoid().reshape(2, 8, 12, 10).mean(1)
    torch.testing.assert_close(ema_map, expected.detach(), atol=1e-4,
                               rtol=1e-4)
    # CBAM: the spatial gate applied after the channel gate.
    with torch.no_grad():
        refined = x * cbam.transform_channel(cbam.extract_channel(x))
        gate = cbam.transform_spatial(cbam.extract_spatial(refined))
    torch.testing.assert_close(cbam_map, gate[:, 0])


def test_plot_curves(load_tool, tmp_path, capsys):
    scalars = tmp_path / 'scalars.json'
    lines = []
    for step in range(1, 21):
        lines.append(dict(lr=0.01 * min(1, step / 5), loss=2.0 / step,
                          loss_cls=1.0 / step, time=0.5, epoch=1 + step // 10,
                          iter=step, step=step, memory=100))
        if step % 10 == 0:
            lines.append({'coco/bbox_mAP': 0.1 * step / 10,
                          'coco/bbox_mAP_50': 0.2 * step / 10,
                          'step': step // 10})
    scalars.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    out = tmp_path / 'curves.png'
    tool = load_tool('visualization/plot_curves.py')
    assert tool.main([str(scalars), '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    for key in ('loss', 'lr', 'coco/bbox_mAP'):
        assert key in printed
    image = cv2.imread(str(out))
    assert image is not None and image.std() > 0
