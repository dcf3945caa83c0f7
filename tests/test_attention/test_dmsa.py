import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmattn.models.attention import DMSA
from mmattn.models.utils import MAX_CHANNELS
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               init_under_parent, is_one_of, is_positive_int)

from .test_psa import PSA_VALUES, psa_rules


def _unit_params(c_branch, attn_groups):
    c = c_branch // (2 * attn_groups)
    d = max(1, c // 8)
    return c * c + 3 * c + 2 * d * (c + 1) + 2  # see test_dmsa_unit


@pytest.mark.parametrize('in_channels,out_channels,attn_groups',
                         [(64, 64, 4), (128, 256, 4), (512, 512, 8)])
def test_parameter_count_matches_formula(in_channels, out_channels,
                                         attn_groups):
    kernels, groups = (3, 5, 7, 9), (1, 4, 8, 16)
    c_branch = out_channels // 4
    hidden = max(1, c_branch // 16)
    # Σ branch convs (no bias) + one shared unit + one shared SEWeight
    expected = sum(in_channels * c_branch * k * k // g
                   for k, g in zip(kernels, groups))
    expected += _unit_params(c_branch, attn_groups)
    expected += 2 * c_branch * hidden + hidden + c_branch
    module = DMSA(in_channels, out_channels, attn_groups=attn_groups)
    assert sum(p.numel() for p in module.parameters()) == expected


@pytest.mark.parametrize('stride,size', [(1, (6, 5)), (2, (7, 5)),
                                         (1, (1, 1))])
def test_output_matches_paper_equations_scale_by_scale(stride, size):
    module = DMSA(16, 64, stride, chunk_size=4)
    unit = module.dual_attention
    nn.init.normal_(unit.gate_weight)
    nn.init.constant_(unit.channel_attention.beta, 0.3)
    nn.init.constant_(unit.position_attention.alpha, 0.7)
    x = torch.randn(2, 16, *size)

    scales = []
    for conv, k in zip(module.convs, (3, 5, 7, 9)):
        f = F.conv2d(x, conv.weight, None, stride, k // 2, 1, conv.groups)
        scales.append(unit(f))  # eq. 7, the shared unit on each scale alone
    z = [
        torch.sigmoid(
            module.se_fc2(F.relu(module.se_fc1(f.mean((2, 3),
                                                      keepdim=True)))))
        for f in scales
    ]
    att = torch.softmax(torch.stack(z), dim=0)  # eq. 8, across scales
    expected = torch.cat([f * a for f, a in zip(scales, att)], dim=1)  # eq. 9
    torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)


def test_attention_init_survives_a_parent_init():
    dmsa = init_under_parent(DMSA(64, 64), trained=True)
    unit = dmsa.dual_attention
    assert unit.channel_attention.beta.item() == 0
    assert unit.position_attention.alpha.item() == 0
    # EPSANet's normal(0, sqrt(2 / (k·k·out))) on the branch convs
    conv = dmsa.convs[0]
    assert abs(conv.weight.std().item() - (2 / (9 * 16))**0.5) < 0.02


def test_invalid_hyper_parameters_are_rejected():
    with pytest.raises(ValueError, match=r'DMSA: kernels=\(3, 4, 7, 9\) '):
        DMSA(64, 64, kernels=(3, 4, 7, 9))
    with pytest.raises(ValueError, match=r'DMSA: out_channels=66 .*'
                       r'len\(kernels\)=4'):
        DMSA(64, 66)
    with pytest.raises(ValueError,
                       match=r'DMSA: in_channels=24 .*groups\[3\]=16'):
        DMSA(24, 64)
    with pytest.raises(ValueError, match=r'DMSA: out_channels=32 is invalid; '
                       r'out_channels / len\(kernels\) = 8 must be divisible '
                       r'by groups\[3\]=16'):
        DMSA(64, 32)
    with pytest.raises(ValueError, match=r'DMSA: groups=\(1, 4, 8\) '):
        DMSA(64, 64, groups=(1, 4, 8))
    with pytest.raises(ValueError, match=r'DMSA: attn_groups=16 is invalid; '
                       r'out_channels / len\(kernels\) = 16 .*2\*attn_groups'
                       r'=32'):
        DMSA(64, 64, attn_groups=16)
    with pytest.raises(ValueError, match=r"DMSA: norm='LN' "):
        DMSA(64, 64, norm='LN')
    with pytest.raises(ValueError, match=r'DMSA: stride=0 '):
        DMSA(64, 64, stride=0)


VALIDATION_SPECS = {
    'DMSA': ValidationSpec(
        values=dict(PSA_VALUES,
                    attn_groups=[OMIT, 1, 2, 4],
                    norm=[OMIT, 'IN', 'BN', 'GN', 'none', 'LN'],
                    chunk_size=[OMIT, None, 5]),
        rules=psa_rules() + [
            argument_rule('attn_groups',
                          lambda g: is_positive_int(g, MAX_CHANNELS), 4),
            ('attn_groups', lambda kw: kw['out_channels'] // len(
                kw.get('kernels', (3, 5, 7, 9))) % (2 * kw.get(
                    'attn_groups', 4)) == 0),
            argument_rule('norm',
                          lambda n: is_one_of(n, ('IN', 'BN', 'GN', 'none')),
                          'IN'),
            argument_rule('chunk_size',
                          lambda c: c is None or is_positive_int(c), 2048),
        ],
        max_side=8)
}
