import pytest
import torch
from torch import nn

from mmattn.models.attention import DAPositionAttention
from mmattn.models.attention._pairwise import (_reference_attention,
                                               pairwise_attention)
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               init_under_parent, is_channels, is_positive_int)


@pytest.mark.parametrize('channels,reduction', [(64, 8), (256, 8), (48, 4)])
def test_parameter_count_matches_paper_formula(channels, reduction):
    d = channels // reduction
    # query + key convs C -> C/r with bias, value conv C -> C with bias, α
    expected = 2 * (channels * d + d) + channels * channels + channels + 1
    module = DAPositionAttention(channels, reduction)
    assert sum(p.numel() for p in module.parameters()) == expected


@pytest.mark.parametrize('dk,dv', [(4, 12), (12, 4), (6, 6)])
@pytest.mark.parametrize('chunk_size', [5, 64, None])
def test_chunked_kernel_matches_full_matrix(dk, dv, chunk_size):
    # 37 queries in chunks of 5 exercises a ragged last chunk.
    query, key = torch.randn(2, 37, dk), torch.randn(2, 29, dk)
    value = torch.randn(2, 29, dv)
    for scale in (1.0, 0.3):
        torch.testing.assert_close(
            pairwise_attention(query, key, value, scale, chunk_size),
            _reference_attention(query, key, value, scale),
            atol=1e-5, rtol=1e-5)


def _paper_pam(module, x):
    """Paper eqs. 1-2 with the full N×N map, written as the DANet code."""
    b, c, h, w = x.shape
    query = module.query_conv(x).reshape(b, -1, h * w).transpose(1, 2)
    key = module.key_conv(x).reshape(b, -1, h * w)
    value = module.value_conv(x).reshape(b, c, h * w)
    attention = torch.softmax(torch.bmm(query, key), dim=-1)  # (N, N)
    out = torch.bmm(value, attention.transpose(1, 2)).reshape(b, c, h, w)
    return module.alpha * out + x


@pytest.mark.parametrize('size', [(7, 9), (1, 1), (1, 5)])
def test_chunked_module_matches_paper_equations(size):
    module = DAPositionAttention(16, chunk_size=8)  # 63 positions: 8 chunks
    nn.init.constant_(module.alpha, 0.7)
    x = torch.randn(2, 16, *size)
    torch.testing.assert_close(
        module(x), _paper_pam(module, x), atol=1e-5, rtol=1e-5)


def test_alpha_starts_at_zero_and_survives_a_parent_init():
    assert DAPositionAttention(32).alpha.item() == 0
    pam = init_under_parent(DAPositionAttention(32), trained=True)
    assert pam.alpha.item() == 0
    # The convs are back at PyTorch's default, not the parent's constant.
    assert pam.value_conv.weight.abs().max() <= 1 / 32**0.5
    x = torch.randn(1, 32, 5, 4)
    torch.testing.assert_close(pam(x), x)


def test_invalid_hyper_parameters_are_rejected():
    with pytest.raises(ValueError,
                       match=r'DAPositionAttention: reduction=16 .*'
                       r'in_channels=8'):
        DAPositionAttention(8, reduction=16)
    with pytest.raises(ValueError,
                       match=r'DAPositionAttention: reduction=0 '):
        DAPositionAttention(8, reduction=0)
    with pytest.raises(ValueError,
                       match=r'DAPositionAttention: chunk_size=0 '):
        DAPositionAttention(8, chunk_size=0)


VALIDATION_SPECS = {
    'DAPositionAttention': ValidationSpec(
        values=dict(in_channels=[1, 2, 8, 16],
                    reduction=[1, 2, 8, 32],
                    chunk_size=[OMIT, None, 7, 2048]),
        rules=[
            argument_rule('in_channels', is_channels),
            ('reduction', lambda kw: is_positive_int(kw['reduction']) and
             kw['reduction'] <= kw['in_channels']),
            argument_rule('chunk_size',
                          lambda c: c is None or is_positive_int(c), 2048),
        ],
        max_side=8)
}
