import math

import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import MultiSpectralAttention
from mmattn.models.utils import MAX_KERNEL_SIZE
from mmattn_test_utils import (ValidationSpec, argument_rule, is_channels,
                               is_one_of, is_positive_int)

# The authors' 'top16' frequencies on the 7×7 grid, in order.
TOP16 = [(0, 0), (0, 1), (6, 0), (0, 5), (0, 2), (1, 0), (1, 2), (4, 0),
         (5, 0), (1, 6), (3, 0), (0, 4), (0, 6), (0, 3), (3, 5), (2, 2)]


def _dct_weight(channels, size, freqs):
    """The authors' per-channel DCT filter (C, N, N), element by element."""

    def basis(pos, freq):
        value = math.cos(math.pi * freq * (pos + 0.5) / size) / math.sqrt(size)
        return value if freq == 0 else value * math.sqrt(2)

    scale = size // 7
    weight = torch.zeros(channels, size, size)
    part = channels // len(freqs)
    for i, (u, v) in enumerate(freqs):
        for h in range(size):
            for w in range(size):
                weight[i * part:(i + 1) * part, h, w] = (
                    basis(h, u * scale) * basis(w, v * scale))
    return weight


def _reference(fca, x, dct_size):
    """Adaptive average pooling to the DCT grid, DCT pooling, SE excitation."""
    batch, channels = x.shape[:2]
    if x.shape[2:] != (dct_size, dct_size):
        x_pooled = F.adaptive_avg_pool2d(x, dct_size)
    else:
        x_pooled = x
    freq = (x_pooled * _dct_weight(channels, dct_size, TOP16)).sum((2, 3))
    att = torch.sigmoid(
        F.linear(F.relu(F.linear(freq, fca.fc1.weight)), fca.fc2.weight))
    return x * att.view(batch, channels, 1, 1)


@pytest.mark.parametrize('channels,reduction', [(256, 16), (64, 16),
                                                (2048, 16), (96, 8)])
def test_parameter_count_matches_paper_formula(channels, reduction):
    expected = 2 * channels * (channels // reduction)  # 2·C²/r, no biases
    model = MultiSpectralAttention(channels, reduction)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_dct_filters_are_orthonormal_and_lowest_is_the_mean():
    fca = MultiSpectralAttention(64, freq_sel_method='top16')
    flat = fca.dct_filters.reshape(16, 49).double()
    torch.testing.assert_close(flat @ flat.t(), torch.eye(16,
                                                          dtype=flat.dtype),
                               rtol=0, atol=1e-6)
    # (0, 0) is GAP up to the factor 7 = sqrt(7·7)
    torch.testing.assert_close(fca.dct_filters[0],
                               torch.full((7, 7), 1 / 7))
    assert not fca.dct_filters.requires_grad
    assert 'dct_filters' not in fca.state_dict()


@pytest.mark.parametrize('shape', [(2, 32, 7, 7), (1, 32, 14, 14),
                                   (2, 32, 25, 38), (1, 32, 1, 1),
                                   (1, 32, 1, 7), (1, 32, 5, 3)])
def test_output_matches_authors_pooling_and_dct(shape):
    torch.manual_seed(0)
    fca = MultiSpectralAttention(32, reduction=4)
    x = torch.randn(*shape)
    torch.testing.assert_close(fca(x), _reference(fca, x, 7), rtol=1e-4,
                               atol=1e-5)


def test_larger_dct_grid_scales_the_frequencies():
    # dct 14×14 (the authors' ResNet stage 3): frequency (u, v) becomes
    # (2u, 2v) so that it means the same as on the 7×7 grid.
    torch.manual_seed(0)
    fca = MultiSpectralAttention(32, reduction=4, dct_h=14, dct_w=14)
    for shape in [(2, 32, 14, 14), (1, 32, 20, 9)]:
        x = torch.randn(*shape)
        torch.testing.assert_close(fca(x), _reference(fca, x, 14),
                                   rtol=1e-4, atol=1e-5)


def test_unknown_frequency_method_is_rejected():
    with pytest.raises(
            ValueError,
            match=r"MultiSpectralAttention: freq_sel_method='top3'"):
        MultiSpectralAttention(64, freq_sel_method='top3')


def test_channels_not_divisible_by_the_frequency_count_are_rejected():
    with pytest.raises(ValueError,
                       match=r'MultiSpectralAttention: in_channels=40 .*=16'):
        MultiSpectralAttention(40)


@pytest.mark.parametrize('arg', ['dct_h', 'dct_w'])
def test_dct_size_off_the_7_grid_is_rejected(arg):
    with pytest.raises(ValueError,
                       match=rf'MultiSpectralAttention: {arg}=8 .*=7'):
        MultiSpectralAttention(64, **{arg: 8})


def test_reduction_larger_than_channels_is_rejected():
    with pytest.raises(
            ValueError,
            match=r'MultiSpectralAttention: reduction=64 .*in_channels=32'):
        MultiSpectralAttention(32, reduction=64)


VALIDATION_SPECS = {
    'MultiSpectralAttention': ValidationSpec(
        values=dict(in_channels=[4, 16, 32, 48, 64],
                    reduction=[1, 4, 16],
                    dct_h=[7, 14, 7, 8],
                    dct_w=[7, 14, 7, 8],
                    freq_sel_method=['top16', 'low4', 'bot1', 'top32',
                                     'top3']),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('freq_sel_method', lambda m: is_one_of(
                m, [f'{kind}{n}' for kind in ('top', 'low', 'bot')
                    for n in (1, 2, 4, 8, 16, 32)])),
            argument_rule('dct_h', lambda size: is_positive_int(
                size, MAX_KERNEL_SIZE) and size % 7 == 0),
            argument_rule('dct_w', lambda size: is_positive_int(
                size, MAX_KERNEL_SIZE) and size % 7 == 0),
            ('in_channels', lambda kw: kw['in_channels'] % int(
                kw['freq_sel_method'][3:]) == 0),
            ('reduction', lambda kw: is_positive_int(kw['reduction']) and
             kw['reduction'] <= kw['in_channels']),
        ])
}
