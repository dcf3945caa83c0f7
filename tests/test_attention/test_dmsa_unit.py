import pytest
import torch
from torch import nn

from mmattn.models.attention import DMSAUnit
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               half_group_rules, init_under_parent, is_one_of,
                               is_positive_int)


@pytest.mark.parametrize('channels,groups', [(256, 32), (64, 2), (128, 4),
                                             (32, 16)])
@pytest.mark.parametrize('norm', ['IN', 'BN'])
def test_parameter_count_matches_formula(channels, groups, norm):
    c = channels // (2 * groups)
    d = max(1, c // 8)
    # β; gate W, b (c each); q, k: c -> d with bias; v: c -> c with bias; α.
    # The norms have no affine. Weights are shared by the G groups.
    expected = 1 + 2 * c + 2 * (c * d + d) + c * c + c + 1
    module = DMSAUnit(channels, groups, norm=norm)
    assert sum(p.numel() for p in module.parameters()) == expected


def _hand_norm(norm, x):
    dims = {'IN': (2, 3), 'GN': (1, 2, 3), 'BN': (0, 2, 3)}.get(norm)
    if dims is None:
        return x
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5)


def _paper_unit(unit, x, norm):
    """Paper §3.1-3.4 with full C×C and N×N maps, written independently."""
    b, channels, h, w = x.shape
    c = channels // (2 * unit.groups)
    groups = x.reshape(b * unit.groups, 2 * c, h, w)
    a, s = groups[:, :c].flatten(2), groups[:, c:]
    # channel half, eqs. 3-4 (with the authors' max(E) - E)
    energy = a @ a.transpose(1, 2)
    attention = torch.softmax(
        energy.max(-1, keepdim=True)[0] - energy, dim=-1)
    beta = unit.channel_attention.beta
    channel_out = (beta * (attention @ a) + a).reshape(-1, c, h, w)
    # spatial half: gate (§3.3), then eqs. 5-6
    s = s * torch.sigmoid(unit.gate_weight * _hand_norm(norm, s) +
                          unit.gate_bias)
    pam = unit.position_attention
    query = pam.query_conv(s).flatten(2)  # (BG, d, N)
    key = pam.key_conv(s).flatten(2)
    value = pam.value_conv(s).flatten(2)  # (BG, c, N)
    spatial = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # (N, N)
    spatial_out = pam.alpha * (value @ spatial.transpose(1, 2)).reshape(
        s.shape) + s
    out = torch.cat([channel_out, spatial_out], dim=1).reshape(x.shape)
    # channel shuffle with 2 groups: new channel 2i + g = old g·C/2 + i
    half = channels // 2
    return torch.stack([out[:, :half], out[:, half:]], dim=2).reshape(x.shape)


@pytest.mark.parametrize('norm', ['IN', 'BN', 'GN', 'none'])
@pytest.mark.parametrize('size', [(6, 7), (1, 1)])
def test_chunked_unit_matches_paper_equations(norm, size):
    # 64 channels, 2 groups: c = 16 per half, query/key width 2.
    unit = DMSAUnit(64, groups=2, norm=norm, chunk_size=8)  # 42 positions
    nn.init.normal_(unit.gate_weight)
    nn.init.normal_(unit.gate_bias)
    nn.init.constant_(unit.channel_attention.beta, 0.4)
    nn.init.constant_(unit.position_attention.alpha, 0.6)
    x = torch.randn(2, 64, *size) * 0.5
    torch.testing.assert_close(
        unit(x), _paper_unit(unit, x, norm), atol=1e-5, rtol=1e-5)


def test_one_channel_halves_use_one_query_key_channel():
    unit = DMSAUnit(64, groups=32)  # c = 1
    assert unit.position_attention.query_conv.out_channels == 1
    nn.init.constant_(unit.position_attention.alpha, 0.6)
    x = torch.randn(1, 64, 3, 5)
    torch.testing.assert_close(unit(x), _paper_unit(unit, x, 'IN'))


def test_init_survives_a_parent_init():
    unit = init_under_parent(DMSAUnit(64), trained=True)
    assert unit.channel_attention.beta.item() == 0
    assert unit.position_attention.alpha.item() == 0
    assert torch.all(unit.gate_weight == 0) and torch.all(unit.gate_bias == 1)
    # At init: identity on the channel half, constant gate σ(1) on the
    # spatial half, then the shuffle.
    x = torch.randn(2, 64, 4, 3)
    groups = x.reshape(2 * 32, 2, 4, 3)
    expected = torch.cat(
        [groups[:, :1], groups[:, 1:] * torch.sigmoid(torch.tensor(1.0))],
        dim=1).reshape(2, 2, 32, 4, 3).transpose(1, 2).reshape(x.shape)
    torch.testing.assert_close(unit(x), expected)


def test_invalid_hyper_parameters_are_rejected():
    with pytest.raises(ValueError,
                       match=r'DMSAUnit: in_channels=96 .*2\*groups=64'):
        DMSAUnit(96, groups=32)
    with pytest.raises(ValueError, match=r'DMSAUnit: groups=0 '):
        DMSAUnit(64, groups=0)
    with pytest.raises(ValueError, match=r"DMSAUnit: norm='LN' "):
        DMSAUnit(64, norm='LN')
    with pytest.raises(ValueError, match=r'DMSAUnit: chunk_size=0 '):
        DMSAUnit(64, chunk_size=0)


VALIDATION_SPECS = {
    'DMSAUnit': ValidationSpec(
        values=dict(in_channels=[2, 4, 8, 16, 64, 6],
                    groups=[1, 2, 4, 32],
                    norm=['IN', 'BN', 'GN', 'none', 'LN'],
                    chunk_size=[OMIT, None, 5, 2048]),
        rules=half_group_rules() + [
            argument_rule('norm',
                          lambda n: is_one_of(n, ('IN', 'BN', 'GN', 'none'))),
            argument_rule('chunk_size',
                          lambda c: c is None or is_positive_int(c), 2048),
        ],
        max_side=8)
}
