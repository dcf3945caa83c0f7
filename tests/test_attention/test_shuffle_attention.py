import pytest
import torch

from mmattn.models.attention import ShuffleAttention
from mmattn_test_utils import (ValidationSpec, assert_same_function,
                               half_group_rules, randomise)


def _reference(sa, x):
    """SA-Net by hand: per sample and group, gate both halves, then shuffle."""
    groups = sa.groups
    batch, channels, height, width = x.shape
    half = channels // (2 * groups)
    cw, cb = sa.cweight.view(half, 1, 1), sa.cbias.view(half, 1, 1)
    sw, sb = sa.sweight.view(half, 1, 1), sa.sbias.view(half, 1, 1)
    gamma, beta = sa.gn.weight.view(half, 1, 1), sa.gn.bias.view(half, 1, 1)
    grouped = torch.empty_like(x)
    for n in range(batch):
        for g in range(groups):
            start = g * 2 * half
            xc = x[n, start:start + half]
            xs = x[n, start + half:start + 2 * half]
            grouped[n, start:start + half] = xc * torch.sigmoid(
                cw * xc.mean((1, 2), keepdim=True) + cb)
            mean = xs.mean((1, 2), keepdim=True)
            var = xs.var((1, 2), unbiased=False, keepdim=True)
            gn = (xs - mean) / torch.sqrt(var + sa.gn.eps) * gamma + beta
            grouped[n, start + half:start + 2 * half] = xs * torch.sigmoid(
                sw * gn + sb)
    # channel shuffle with 2 groups: channel s*C/2 + i goes to 2*i + s
    out = torch.empty_like(x)
    for p in range(channels):
        s, i = divmod(p, channels // 2)
        out[:, 2 * i + s] = grouped[:, p]
    return out


@pytest.mark.parametrize('shape,groups', [((2, 64, 5, 7), 8),
                                          ((1, 48, 1, 1), 4)])
def test_gradients_match_gating_by_hand(shape, groups):
    sa = randomise(ShuffleAttention(shape[1], groups=groups), std=0.5)
    assert_same_function(sa.train(), _reference, torch.randn(*shape))


@pytest.mark.parametrize('channels,groups', [(256, 64), (64, 8), (96, 3),
                                             (128, 64)])
def test_parameter_count_matches_paper_formula(channels, groups):
    # cweight, cbias, sweight, sbias and GN weight, bias: C/(2G) each
    expected = 6 * channels // (2 * groups)  # = 3C/G
    model = ShuffleAttention(channels, groups)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize('shape,groups', [((2, 24, 5, 7), 3),
                                          ((1, 16, 1, 1), 2),
                                          ((1, 32, 1, 6), 4)])
def test_output_matches_hand_computation(shape, groups):
    sa = randomise(ShuffleAttention(shape[1], groups=groups))
    x = torch.randn(*shape)
    torch.testing.assert_close(sa(x), _reference(sa, x), rtol=1e-4,
                               atol=1e-5)


def test_init_weights_gives_the_authors_start():
    # Gates start as the constant σ(1) (weights 0, biases 1).
    sa = randomise(ShuffleAttention(64, groups=4))
    sa.init_weights()
    x = torch.randn(2, 64, 6, 5)
    shuffled = x.reshape(2, 2, 32, 6, 5).transpose(1, 2).reshape(2, 64, 6, 5)
    torch.testing.assert_close(sa(x),
                               shuffled * torch.sigmoid(torch.tensor(1.)))


def test_channels_not_divisible_by_twice_the_groups_are_rejected():
    with pytest.raises(
            ValueError,
            match=r'ShuffleAttention: in_channels=192 .*2\*groups=128'):
        ShuffleAttention(192)


VALIDATION_SPECS = {
    'ShuffleAttention': ValidationSpec(
        values=dict(in_channels=[2, 4, 8, 16, 64, 6],
                    groups=[1, 2, 4, 64]),
        rules=half_group_rules())
}
