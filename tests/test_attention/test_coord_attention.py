import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import CoordAttention
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule, is_cfg,
                               is_channels, is_positive_int, randomise)


def _reference(ca, x):
    """The paper's equations written out (BatchNorm in inference mode)."""
    height, width = x.shape[2:]
    z_h = F.adaptive_avg_pool2d(x, (height, 1))  # (B,C,H,1)
    z_w = F.adaptive_avg_pool2d(x, (1, width))  # (B,C,1,W)
    bn = ca.bn1

    def shared(z):  # F1, BN, h-swish: the same weights for both
        y = F.conv2d(z, ca.conv1.weight, ca.conv1.bias)
        shape = (1, -1, 1, 1)
        y = ((y - bn.running_mean.view(shape)) /
             torch.sqrt(bn.running_var.view(shape) + bn.eps) *
             bn.weight.view(shape) + bn.bias.view(shape))
        return y * torch.clamp(y + 3, 0, 6) / 6

    g_h = torch.sigmoid(F.conv2d(shared(z_h), ca.conv_h.weight,
                                 ca.conv_h.bias))
    g_w = torch.sigmoid(F.conv2d(shared(z_w), ca.conv_w.weight,
                                 ca.conv_w.bias))
    return x * g_h * g_w


@pytest.mark.parametrize('channels,reduction', [(256, 32), (64, 32),
                                                (1024, 32), (96, 4)])
def test_parameter_count_matches_paper_formula(channels, reduction):
    mip = max(8, channels // reduction)
    # F1: C·mip + mip, BN: 2·mip, F_h and F_w: mip·C + C each
    expected = 3 * channels * mip + 3 * mip + 2 * channels
    model = CoordAttention(channels, reduction)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize('shape', [(2, 16, 5, 7), (1, 16, 1, 1),
                                   (1, 16, 1, 6)])
def test_output_matches_paper_equations(shape):
    ca = randomise(CoordAttention(16, reduction=4), std=0.5).eval()
    x = torch.randn(*shape)
    torch.testing.assert_close(ca(x), _reference(ca, x), rtol=1e-4,
                               atol=1e-5)


def test_gates_are_split_by_axis():
    # a_h depends on the row only and a_w on the column only, so the gate
    # x_out / x is a rank-1 (outer product) map per channel.
    ca = randomise(CoordAttention(16, reduction=4), std=0.5).eval()
    x = torch.rand(1, 16, 6, 9) + 0.5
    gate = (ca(x) / x)[0]
    torch.testing.assert_close(
        gate * gate[:, :1, :1],
        gate[:, :, :1] * gate[:, :1, :], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('reduction,error', [(0, ValueError),
                                             (-32, ValueError),
                                             (1.5, TypeError)])
def test_invalid_reduction_is_rejected(reduction, error):
    with pytest.raises(error, match=r'CoordAttention: reduction='):
        CoordAttention(64, reduction=reduction)


VALIDATION_SPECS = {
    'CoordAttention': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16, 64],
                    reduction=[1, 8, 32, 1000],
                    norm_cfg=[OMIT, dict(type='GN', num_groups=1)],
                    act_cfg=[OMIT, dict(type='ReLU')]),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('reduction', is_positive_int),
            argument_rule('norm_cfg', is_cfg, dict(type='BN')),
            argument_rule('act_cfg', is_cfg, dict(type='HSwish')),
        ])
}
