"""ONNX export of every backbone, every attention module and a detector.

Exporter: ``torch.onnx.export(..., dynamo=False)`` (TorchScript-based; the
dynamo exporter needs ``onnxscript``, not in the pinned stack), opset 17,
dynamic batch/height/width, through :mod:`mmattn.deployment`. Each model
is exported at one example size and onnxruntime must match PyTorch at
*other* sizes too, up to ``RTOL`` = 1e-4 relative to the largest output
(float32 reordering alone gives ~1e-6): a size-dependent Python branch or
loop recorded at the example size would fail there. The input sizes
include odd ones (1×3×100×76: stage maps of 25×19, 13×10, 7×5, 4×3) where
DCA's spatial pooling is not a whole-ratio average.

Parameters are perturbed before export so that attention paths that start
as the identity (zero-initialised α, β, last convs) are exercised.
"""
import os.path as osp

import pytest
import torch
from torch import nn

from mmattn.deployment import (build_backbone, build_detector, export_onnx,
                               verify_onnx)
from mmattn.registry import CONV_REPLACEMENT, MODELS, PLUGIN, list_models

from .backbones import BACKBONES

RTOL = 1e-4
HERE = osp.dirname(osp.abspath(__file__))
DETECTOR = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')


def perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-degenerate parameters and BN statistics: every parameter scaled
    by 1 ± 10 % per element and shifted by ~0.01 (so that zero-initialised
    ones take part), random BN running statistics; the scale of the
    activations stays that of the initialisation."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            noise = torch.randn((2, *param.shape), generator=generator)
            param.mul_(1 + 0.1 * noise[0]).add_(0.01 * noise[1])
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and \
                    module.running_mean is not None:
                module.running_mean.uniform_(-0.1, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
    return model.eval()


@pytest.mark.parametrize('name', list(BACKBONES))
def test_backbone_exports_with_dynamic_shapes(name, tmp_path):
    model = perturb(build_backbone(BACKBONES[name]))
    out_file = str(tmp_path / f'{name}.onnx')
    info = export_onnx(model, out_file, input_shape=(1, 3, 64, 64))
    assert info['output_names'] == ['out0', 'out1', 'out2', 'out3']
    errors = verify_onnx(model, out_file,
                         [(1, 3, 64, 64), (2, 3, 96, 128), (1, 3, 100, 76)])
    assert max(errors) < RTOL, errors


# Position attention runs in chunks of `chunk_size` queries in eager mode;
# a small chunk size makes the checked sizes span several chunks.
MODULE_ARGS = {
    'DAPositionAttention': dict(chunk_size=16),
    'NonLocal': dict(chunk_size=16),
    'DMSAUnit': dict(groups=4, chunk_size=16),
    'DMSA': dict(chunk_size=16),
    'ShuffleAttention': dict(groups=8),
    # A finite gather extent: ceil-mode pooling and an exact upsampling.
    'GatherExcite': dict(extent=3),
}
# Exported at its DCT grid size (7×7), where eager mode skips the pooling.
EXAMPLE_SIZE = {'MultiSpectralAttention': (7, 7)}


@pytest.mark.parametrize(
    'name', list_models(PLUGIN) + list_models(CONV_REPLACEMENT))
def test_attention_module_exports_with_dynamic_shapes(name, tmp_path):
    cfg = dict(type=name, in_channels=64, **MODULE_ARGS.get(name, {}))
    if name in list_models(CONV_REPLACEMENT):
        cfg.update(out_channels=64, stride=2)
    model = perturb(MODELS.build(cfg))
    out_file = str(tmp_path / f'{name}.onnx')
    export_onnx(model, out_file,
                input_shape=(1, 64, *EXAMPLE_SIZE.get(name, (4, 4))))
    errors = verify_onnx(model, out_file,
                         [(2, 64, 9, 7), (1, 64, 1, 1), (1, 64, 4, 4)])
    assert max(errors) < RTOL, errors


def _tool():
    import importlib.util
    from mmattn_test_utils import REPO_ROOT
    spec = importlib.util.spec_from_file_location(
        'mmattn_export_onnx',
        osp.join(REPO_ROOT, 'tools', 'deployment', 'export_onnx.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_export_tool_backbone_by_name(tmp_path, capsys):
    out_file = str(tmp_path / 'emca.onnx')
    code = _tool()(['backbone', 'EMCAResNet', '--cfg-options', 'depth=18',
                    'base_channels=16', '--out', out_file, '--shape',
                    '1,3,64,64', '--verify', '1,3,64,64', '2,3,96,128'])
    assert code == 0
    output = capsys.readouterr().out
    assert 'outputs out0, out1, out2, out3' in output
    assert output.count('relative error') == 2


def test_export_tool_detector_with_checkpoint(tmp_path, capsys):
    """The RetinaNet's backbone + neck (feat0-4) and its head's raw
    outputs (cls_score0-4, bbox_pred0-4), weights from a checkpoint,
    checked by the tool at two sizes."""
    detector = build_detector(DETECTOR)
    checkpoint = str(tmp_path / 'detector.pth')
    torch.save({'state_dict': perturb(detector).state_dict()}, checkpoint)
    out_file = str(tmp_path / 'retinanet.onnx')
    code = _tool()(['detector', DETECTOR, '--checkpoint', checkpoint,
                    '--out', out_file, '--shape', '1,3,64,64', '--verify',
                    '1,3,64,64', '2,3,96,128'])
    output = capsys.readouterr().out
    assert code == 0, output
    assert output.count('relative error') == 2
    import onnx
    names = [o.name for o in onnx.load(out_file).graph.output]
    assert names == [f'feat{i}' for i in range(5)] + \
        [f'cls_score{i}' for i in range(5)] + \
        [f'bbox_pred{i}' for i in range(5)]


def test_export_refuses_old_opsets(tmp_path):
    with pytest.raises(ValueError, match='opset'):
        export_onnx(nn.Conv2d(3, 3, 1), str(tmp_path / 'x.onnx'), opset=13)
