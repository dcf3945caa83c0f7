import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import EMA
from mmattn_test_utils import (ValidationSpec, argument_rule,
                               assert_same_function, is_channels,
                               is_positive_int, randomise)


def _reference(ema, x):
    """The spec's seven steps, one sample and one group at a time."""
    groups = ema.groups
    batch, channels, height, width = x.shape
    cg = channels // groups
    w1, b1 = ema.conv1x1.weight, ema.conv1x1.bias
    w3, b3 = ema.conv3x3.weight, ema.conv3x3.bias
    out = torch.empty_like(x)
    for n in range(batch):
        for i in range(groups):
            g = x[n:n + 1, i * cg:(i + 1) * cg]  # step 1: one group (1,Cg,H,W)
            # step 2: directional average pools
            z_h = F.adaptive_avg_pool2d(g, (height, 1))  # (1,Cg,H,1)
            z_w = F.adaptive_avg_pool2d(g, (1, width))  # (1,Cg,1,W)
            # step 3: the same 1x1 conv on both
            z_h = F.conv2d(z_h, w1, b1)
            z_w = F.conv2d(z_w, w1, b1)
            # step 4: gate, then per-channel normalisation over H×W
            y = g * torch.sigmoid(z_h) * torch.sigmoid(z_w)
            mean = y.mean((2, 3), keepdim=True)
            var = y.var((2, 3), unbiased=False, keepdim=True)
            x1 = ((y - mean) / torch.sqrt(var + ema.gn.eps)
                  * ema.gn.weight.view(1, cg, 1, 1)
                  + ema.gn.bias.view(1, cg, 1, 1))
            # step 5: 3x3 branch
            x2 = F.conv2d(g, w3, b3, padding=1)
            # step 6: cross-spatial weights
            a1 = torch.softmax(x1.mean((2, 3)).view(cg), 0)
            a2 = torch.softmax(x2.mean((2, 3)).view(cg), 0)
            weights = ((a1.view(cg, 1, 1) * x2[0]).sum(0) +
                       (a2.view(cg, 1, 1) * x1[0]).sum(0))
            # step 7
            out[n, i * cg:(i + 1) * cg] = g[0] * torch.sigmoid(weights)
    return out


@pytest.mark.parametrize('channels,factor', [(256, 32), (64, 16), (96, 8),
                                             (32, 32)])
def test_parameter_count_matches_paper_formula(channels, factor):
    cg = channels // factor
    expected = 10 * cg * cg + 4 * cg  # 3x3: 9Cg²+Cg, 1x1: Cg²+Cg, GN: 2Cg
    model = EMA(channels, factor)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize('shape', [(2, 32, 5, 7), (1, 32, 1, 1),
                                   (1, 32, 1, 6)])
def test_output_matches_the_seven_steps(shape):
    ema = randomise(EMA(32, factor=4))
    x = torch.randn(*shape)
    torch.testing.assert_close(ema(x), _reference(ema, x),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('channels,factor', [(32, 4), (64, 4)])
def test_gradients_match_the_seven_steps(channels, factor):
    # Cg = 8 runs the 3x3 conv as one grouped conv, Cg = 16 on the folded
    # groups: both must be the spec's function, gradients included.
    ema = randomise(EMA(channels, factor=factor))
    assert_same_function(ema, _reference, torch.randn(2, channels, 6, 5))


def test_gap_of_x1_equals_the_groupnorm_bias():
    # Each GroupNorm group is a single channel normalised over H×W, so its
    # spatial mean is exactly the bias: a1 = softmax(bias) for every input.
    ema = randomise(EMA(64, factor=8))
    seen = []
    ema.gn.register_forward_hook(lambda m, i, o: seen.append(o))
    for x in (torch.randn(2, 64, 9, 13), 10 * torch.rand(1, 64, 4, 3) + 5):
        ema(x)
        gap = seen[-1].mean((2, 3))
        torch.testing.assert_close(
            gap, ema.gn.bias.expand_as(gap), rtol=0, atol=1e-5)


def test_channels_not_divisible_by_factor_are_rejected():
    with pytest.raises(ValueError,
                       match=r'EMA: in_channels=100 .*divisible by factor=32'):
        EMA(100)


@pytest.mark.parametrize('factor,error', [(0, ValueError), (-4, ValueError),
                                          (2.0, TypeError)])
def test_non_positive_or_non_integer_factor_is_rejected(factor, error):
    with pytest.raises(error, match=r'EMA: factor='):
        EMA(64, factor=factor)


VALIDATION_SPECS = {
    'EMA': ValidationSpec(
        values=dict(in_channels=[1, 4, 8, 16, 32, 64, 6],
                    factor=[1, 2, 4, 32]),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('factor', is_positive_int),
            ('in_channels', lambda kw: kw['in_channels'] % kw['factor'] == 0),
        ])
}
