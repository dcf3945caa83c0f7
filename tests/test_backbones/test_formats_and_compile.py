"""Every backbone accepts channels-last input (same values, channels-last
outputs) and compiles with torch.compile(fullgraph=True), the attention
state of DCA and EMCA included."""
import copy

import pytest
import torch

from mmattn.registry import MODELS

BACKBONES = {
    'AttnResNet-18+EMA': dict(
        type='AttnResNet', depth=18, plugins=[dict(
            cfg=dict(type='EMA', factor=8), position='after_conv2',
            stages=(False, True, True, True))]),
    'EPSANet-50': dict(type='EPSANet', depth=50),
    'DMSANet-50': dict(type='DMSANet', depth=50),
    'DCAResNet-50 CBAM': dict(type='DCAResNet', depth=50,
                              attention=dict(type='CBAM')),
    'DCAResNet-50 SK': dict(type='DCAResNet', depth=50,
                            attention=dict(type='SK')),
    'EMCAResNet-18 SRM': dict(type='EMCAResNet', depth=18,
                              excitation='SRM', placement='all'),
}


def _build(name, num_stages=4):
    torch.manual_seed(0)
    cfg = copy.deepcopy(BACKBONES[name])
    for plugin in cfg.get('plugins', []):
        plugin['stages'] = plugin['stages'][:num_stages]
    model = MODELS.build(dict(cfg, num_stages=num_stages,
                              out_indices=tuple(range(num_stages))))
    with torch.no_grad():  # no zero-initialised residual branch
        for param in model.parameters():
            param.normal_(0, 0.05)
    return model


@pytest.mark.parametrize('name', list(BACKBONES))
def test_channels_last_input_gives_channels_last_outputs(name):
    model = _build(name).eval()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        expected = model(x)
        outs = model(x.contiguous(memory_format=torch.channels_last))
    for out, reference in zip(outs, expected):
        assert out.is_contiguous(memory_format=torch.channels_last), name
        torch.testing.assert_close(out, reference, rtol=1e-4,
                                   atol=1e-4 * float(reference.abs().max()))


@pytest.mark.parametrize('name', list(BACKBONES))
def test_compiles_without_graph_breaks(name):
    """Two stages (tracing time grows with the blocks): the state crosses a
    stage boundary, which is what the first stage alone would not show."""
    torch._dynamo.reset()
    model = _build(name, num_stages=2).train()
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)
    x = torch.randn(2, 3, 64, 48, requires_grad=True)
    expected = model(x)
    (grad_expected, ) = torch.autograd.grad(expected[-1].sum(), x)
    outs = compiled(x)
    (grad, ) = torch.autograd.grad(outs[-1].sum(), x)
    for out, reference in zip(outs, expected):
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grad, grad_expected, rtol=1e-4, atol=1e-5)
