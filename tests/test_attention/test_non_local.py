import pytest
import torch
from torch import nn

from mmattn.models.attention import NonLocal
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               init_under_parent, is_bool, is_cfg, is_channels,
                               is_positive_int)


@pytest.mark.parametrize('channels,reduction', [(64, 2), (256, 2), (96, 4)])
def test_parameter_count_matches_paper_formula(channels, reduction):
    ci = channels // reduction
    # θ, φ, g: C -> Ci with bias; W_z: Ci -> C without bias; BN γ and β
    expected = 3 * (channels * ci + ci) + ci * channels + 2 * channels
    module = NonLocal(channels, reduction)
    assert sum(p.numel() for p in module.parameters()) == expected


def _paper_non_local(module, x, scale):
    """Embedded-Gaussian eqs. 1-3 and 6 with the full N×N map."""
    b, c, h, w = x.shape
    theta = module.theta(x).flatten(2).transpose(1, 2)  # (B, N, Ci)
    phi = module.phi(x).flatten(2)  # (B, Ci, N)
    g = module.g(x).flatten(2).transpose(1, 2)  # (B, N, Ci)
    f = torch.softmax(scale * torch.bmm(theta, phi), dim=-1)  # (B, N, N)
    y = torch.bmm(f, g).transpose(1, 2).reshape(b, -1, h, w)
    return x + module.norm(module.out_conv(y))


@pytest.mark.parametrize('scaled', [False, True])
@pytest.mark.parametrize('size', [(6, 7), (1, 1)])
def test_chunked_module_matches_paper_equations(scaled, size):
    module = NonLocal(16, scaled=scaled, chunk_size=8)  # 42 positions
    module.init_weights()
    for conv in (module.theta, module.phi, module.g):
        nn.init.normal_(conv.weight, std=0.5)  # non-trivial attention
    nn.init.normal_(module.norm.weight)
    module.eval()
    x = torch.randn(2, 16, *size)
    scale = 1 / 8**0.5 if scaled else 1.0
    with torch.no_grad():
        torch.testing.assert_close(
            module(x), _paper_non_local(module, x, scale), atol=1e-5,
            rtol=1e-5)


def test_zero_gamma_survives_a_parent_init_and_block_starts_as_identity():
    non_local = init_under_parent(NonLocal(32))
    assert torch.all(non_local.norm.weight == 0)
    assert non_local.theta.weight.std() < 0.02  # authors' std 0.01
    x = torch.randn(2, 32, 5, 3)
    torch.testing.assert_close(non_local(x), x)


def test_invalid_hyper_parameters_are_rejected():
    with pytest.raises(ValueError,
                       match=r'NonLocal: reduction=32 .*in_channels=16'):
        NonLocal(16, reduction=32)
    with pytest.raises(ValueError, match=r'NonLocal: chunk_size=-1 '):
        NonLocal(16, chunk_size=-1)


VALIDATION_SPECS = {
    'NonLocal': ValidationSpec(
        values=dict(in_channels=[1, 2, 4, 8, 16],
                    reduction=[1, 2, 4, 16],
                    scaled=[False, True],
                    norm_cfg=[OMIT, dict(type='GN', num_groups=1)],
                    chunk_size=[OMIT, None, 5, 2048]),
        rules=[
            argument_rule('in_channels', is_channels),
            ('reduction', lambda kw: is_positive_int(kw['reduction']) and
             kw['reduction'] <= kw['in_channels']),
            argument_rule('scaled', is_bool),
            argument_rule('norm_cfg', is_cfg, dict(type='BN')),
            argument_rule('chunk_size',
                          lambda c: c is None or is_positive_int(c), 2048),
        ],
        max_side=8)
}
