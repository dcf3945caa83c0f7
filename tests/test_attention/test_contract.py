"""The contract every registered attention module must keep.

Parametrised over the registry, so a newly registered module is checked
without editing this file: shapes for odd and tiny sizes, dtypes under
autocast, gradients to every parameter, an init that survives the parent's,
stable state-dict names, and use inside mmdet's ResNet and from mmpretrain.
"""
import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from mmattn.registry import CONV_REPLACEMENT, MODELS, PLUGIN, list_models
from mmattn_test_utils import PARENT_INIT_VALUE, init_under_parent

PLUGINS = list_models(PLUGIN)
CONV_REPLACEMENTS = list_models(CONV_REPLACEMENT)
SIZES = [(1, 1), (1, 7), (7, 1), (3, 5), (25, 38)]
CHANNELS = 256


def build_plugin(name):
    return MODELS.build(dict(type=name, in_channels=CHANNELS))


def build_conv(name, in_channels=128, stride=1):
    return MODELS.build(dict(type=name, in_channels=in_channels,
                             out_channels=CHANNELS, stride=stride))


def test_registry_is_populated():
    assert 'SE' in PLUGINS
    assert set(PLUGINS).isdisjoint(CONV_REPLACEMENTS)


@pytest.mark.parametrize('name', PLUGINS)
@pytest.mark.parametrize('batch', [1, 2])
def test_plugin_preserves_shape_for_odd_and_tiny_sizes(name, batch):
    module = build_plugin(name).eval()
    with torch.no_grad():
        for size in SIZES:
            x = torch.randn(batch, CHANNELS, *size)
            out = module(x)
            assert out.shape == x.shape, f'{name} at {size}'
            assert out.dtype == x.dtype
            assert torch.isfinite(out).all(), f'{name} at {size}'


@pytest.mark.parametrize('name', CONV_REPLACEMENTS)
@pytest.mark.parametrize('stride', [1, 2])
@pytest.mark.parametrize('in_channels', [128, CHANNELS])
def test_conv_replacement_matches_3x3_conv_geometry(name, stride, in_channels):
    module = build_conv(name, in_channels, stride).eval()
    reference = nn.Conv2d(in_channels, CHANNELS, 3, stride, padding=1)
    with torch.no_grad():
        for size in SIZES:
            x = torch.randn(2, in_channels, *size)
            out = module(x)
            assert out.shape == reference(x).shape, f'{name} at {size}'
            assert torch.isfinite(out).all(), f'{name} at {size}'


def _build_any(name):
    if name in PLUGINS:
        return build_plugin(name), CHANNELS
    return build_conv(name), 128


ALL = PLUGINS + CONV_REPLACEMENTS


@pytest.mark.parametrize('name', ALL)
def test_every_parameter_receives_a_gradient(name):
    module, in_channels = _build_any(name)
    module.train()
    x = torch.randn(2, in_channels, 7, 9, requires_grad=True)
    module(x).square().mean().backward()
    missing = [n for n, p in module.named_parameters() if p.grad is None]
    assert not missing, f'{name}: parameters without gradient: {missing}'
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize('name', ALL)
@pytest.mark.parametrize('dtype,tolerance', [(torch.bfloat16, 0.1),
                                             (torch.float16, 0.05)])
def test_autocast_output_is_finite_and_close_to_float32(name, dtype, tolerance):
    module, in_channels = _build_any(name)
    module.eval()
    x = torch.randn(2, in_channels, 13, 10)
    with torch.no_grad():
        reference = module(x)
        with torch.autocast('cpu', dtype=dtype):
            out = module(x)
    assert out.shape == reference.shape
    assert torch.isfinite(out).all()
    error = (out.float() - reference).norm() / reference.norm()
    assert error < tolerance, f'{name} under {dtype}: relative error {error}'


@pytest.mark.parametrize('name', ALL)
def test_own_init_survives_parent_init(name):
    module = init_under_parent(_build_any(name)[0])
    overwritten = [
        n for n, m in module.named_modules()
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))
        and torch.all(m.weight == PARENT_INIT_VALUE)
    ]
    assert not overwritten, (
        f'{name}: the parent init replaced the init of {overwritten}')


@pytest.mark.parametrize('name', ALL)
def test_state_dict_names_are_declared(name):
    cls = MODELS.get(name)
    assert '_abbr_' in vars(cls), f'{name} must declare _abbr_'
    assert cls._abbr_.isidentifier() and cls._abbr_ == cls._abbr_.lower()


def _mmdet_resnet_with(name):
    from mmdet.registry import MODELS as MMDET_MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(dict(
            type='ResNet', depth=50, out_indices=(0, 1, 2, 3),
            plugins=[dict(cfg=dict(type=name),
                          stages=(False, True, True, True),
                          position='after_conv3')]))


@pytest.mark.parametrize('name', PLUGINS)
def test_plugin_inside_mmdet_resnet50(name):
    backbone = _mmdet_resnet_with(name)
    backbone.init_weights()
    abbr = MODELS.get(name)._abbr_
    own_keys = [f'{abbr}.{k}' for k in build_plugin(name).state_dict()]
    keys = set(backbone.state_dict())
    for key in own_keys:
        assert f'layer1.0.{key}' not in keys
        assert all(f'layer{i}.0.{key}' in keys for i in (2, 3, 4)), key
    outs = backbone(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 24), (8, 12), (4, 6),
                                                  (2, 3)]


@pytest.mark.parametrize('scope', ['mmdet', 'mmpretrain'])
def test_plain_names_resolve_from_other_scopes(scope):
    from mmengine.registry import MODELS as ROOT_MODELS
    with ROOT_MODELS.switch_scope_and_registry(scope) as registry:
        assert registry.scope == scope
        for name in PLUGINS + CONV_REPLACEMENTS:
            assert registry.get(name) is MODELS.get(name)
            assert registry.get(f'mmattn.{name}') is MODELS.get(name)


def _randomised(name):
    """A module in training mode with random parameters and BN statistics,
    so that no term vanishes because of a zero or identity init."""
    module, in_channels = _build_any(name)
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0, 0.2)
        for buffer_name, buffer in module.named_buffers():
            if buffer_name.endswith('running_var'):
                buffer.uniform_(0.5, 2)
            elif buffer_name.endswith('running_mean'):
                buffer.normal_()
    return module.eval(), in_channels


@pytest.mark.parametrize('name', ALL)
def test_channels_last_input_gives_the_same_values_in_channels_last(name):
    module, in_channels = _randomised(name)
    x = torch.randn(2, in_channels, 9, 7)
    x_last = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected, out = module(x), module(x_last)
    assert out.is_contiguous(memory_format=torch.channels_last), (
        f'{name} turned a channels-last input into a contiguous output')
    # Other kernels, other summation orders: equal up to float rounding,
    # which the softmax of position attention amplifies (a layout error
    # would be of the order of the values).
    torch.testing.assert_close(out, expected, rtol=1e-4,
                               atol=1e-4 * float(expected.abs().max()))


@pytest.mark.parametrize('name', ALL)
def test_compiles_without_graph_breaks_and_gives_the_same_outputs(name):
    """torch.compile(fullgraph=True) traces the whole forward and backward
    (dynamo and AOT autograd; the 'aot_eager' backend runs the traced graph
    without code generation, which keeps the test fast)."""
    torch._dynamo.reset()
    module, in_channels = _randomised(name)
    module.train()
    compiled = torch.compile(module, backend='aot_eager', fullgraph=True)
    x = torch.randn(2, in_channels, 9, 7, requires_grad=True)
    expected = module(x)
    (grad_expected, ) = torch.autograd.grad(expected.sum(), x)
    out = compiled(x)
    (grad, ) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, grad_expected, rtol=1e-4, atol=1e-5)
