import json

import cv2
import numpy as np
import pytest
import torch

from mmattn.analysis.attention_maps import AttentionCapture, capture_attention
from mmattn.models.attention import (CBAM, ECA, EMA, SE, SRM, CoordAttention,
                                     TripletAttention)
from mmattn.models.connect import AttentionState
from mmattn.models.connect.dca import Connection
from mmattn.models.connect.emca import EMCA
from mmattn_test_utils import randomise


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
    (ema_record, ) = capture_attention(ema, lambda: ema(x))
    cbam_records = capture_attention(cbam, lambda: cbam(x))
    assert [(r.source, r.kind) for r in cbam_records] == [
        ('CBAM', 'channel'), ('CBAM', 'spatial')]
    ema_map, cbam_map = ema_record.value, cbam_records[1].value
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
        mlp = cbam.channel_mlp
        channel_gate = (mlp(x.mean((2, 3))) + mlp(x.amax((2, 3)))).sigmoid()
        refined = x * channel_gate[:, :, None, None]
        pooled = torch.cat([refined.amax(1, keepdim=True),
                            refined.mean(1, keepdim=True)], 1)
        spatial_gate = cbam.spatial_bn(cbam.spatial_conv(pooled)).sigmoid()
    torch.testing.assert_close(cbam_records[0].value, channel_gate)
    torch.testing.assert_close(cbam_map, spatial_gate[:, 0])


@pytest.mark.parametrize('build', [
    lambda: SE(32, reduction=4), lambda: ECA(32), lambda: SRM(32),
    lambda: EMCA(32, dict(stem=16, previous=32)),
    lambda: CBAM(32, reduction=4, spatial=False)])
def test_channel_maps_are_what_the_module_applies(build):
    torch.manual_seed(0)
    module = randomise(build().eval())
    x = torch.randn(2, 32, 6, 5)
    state = AttentionState(dict(stem=torch.randn(2, 16, 1),
                                previous=torch.randn(2, 32, 1)))
    inputs = (x, state) if isinstance(module, EMCA) else (x, )
    (record, ) = capture_attention(module, lambda: module(*inputs))
    out = module(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    assert record.kind == 'channel' and record.value.shape == (2, 32)
    torch.testing.assert_close(out, x * record.value[:, :, None, None])


def test_spatial_maps_follow_the_papers():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 7, 9)
    triplet = randomise(TripletAttention(16).eval())
    coord = randomise(CoordAttention(16, reduction=4).eval())
    (triplet_map, ) = capture_attention(triplet, lambda: triplet(x))
    (coord_map, ) = capture_attention(coord, lambda: coord(x))
    conv, norm = triplet.hw
    pooled = torch.stack([x.amax(1), x.mean(1)], 1)  # Z-pool over C
    torch.testing.assert_close(triplet_map.value,
                               norm(conv(pooled)).sigmoid()[:, 0])
    # CoordAttention: g^h = σ(F_h(f^h)), g^w = σ(F_w(f^w)) with
    # f = h-swish(BN(F1([mean_W x, mean_H x]))), averaged over channels.
    z = torch.cat([x.mean(3), x.mean(2)], 2).unsqueeze(3)  # (B, C, H+W, 1)
    f = coord.act(coord.bn1(coord.conv1(z)))
    g_h = coord.conv_h(f[:, :, :7]).sigmoid()  # (B, C, H, 1)
    g_w = coord.conv_w(f[:, :, 7:]).sigmoid().transpose(2, 3)  # (B, C, 1, W)
    torch.testing.assert_close(coord_map.value, (g_h * g_w).mean(1))


def test_connection_shares():
    connection = Connection('direct', gain=True, bias=True)
    with torch.no_grad():
        connection.gain.fill_(-0.75)
        connection.alpha.fill_(0.25)
    current, previous = torch.full((2, 1, 8), 2.0), torch.full((2, 1, 8),
                                                               -4.0)
    shares = connection.shares(current, previous)
    assert shares['weight_ratio'] == pytest.approx(0.25 / (0.75 + 0.25))
    # |α|·mean|T̃| = 1, |w|·mean|G| = 1.5
    assert shares['activation_ratio'] == pytest.approx(1 / (1.5 + 1))


def test_capture_hooks_only_modules_with_maps_and_cleans_up():
    model = torch.nn.Sequential(SE(16), torch.nn.Conv2d(16, 16, 1), ECA(16))
    with AttentionCapture(model) as capture:
        assert [len(m._forward_hooks) for m in model] == [1, 0, 1]
        with torch.no_grad():
            model(torch.randn(1, 16, 4, 4))
    assert [r.module for r in capture.records] == ['0', '2']
    assert all(not m._forward_hooks for m in model.modules())


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
