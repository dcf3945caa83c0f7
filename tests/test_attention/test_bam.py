import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import BAM
from mmattn.models.utils import MAX_KERNEL_SIZE
from mmattn_test_utils import (ValidationSpec, argument_rule,
                               assert_same_function, is_channels, is_one_of,
                               is_positive_int, randomise)


@pytest.mark.parametrize('channels,reduction', [(256, 16), (64, 4), (48, 16)])
def test_parameter_count_matches_formula(channels, reduction):
    h = channels // reduction
    # Channel: FC C->h (+bias), BN1d(h), FC h->C (+bias).
    channel_params = channels * h + h + 2 * h + h * channels + channels
    # Spatial: 1x1 C->h, two 3x3 h->h, 1x1 h->1 (all with bias), 3 BN(h).
    spatial_params = (channels * h + h) + 2 * (9 * h * h + h) + (h + 1) \
        + 3 * 2 * h
    assert channel_params + spatial_params == \
        3 * channels * h + 18 * h * h + 13 * h + channels + 1
    assert sum(p.numel() for p in BAM(channels, reduction).parameters()) == \
        channel_params + spatial_params


def bn_eval(x, bn):
    shape = (1, -1) + (1, ) * (x.dim() - 2)
    return ((x - bn.running_mean.reshape(shape)) /
            (bn.running_var.reshape(shape) + bn.eps).sqrt() *
            bn.weight.reshape(shape) + bn.bias.reshape(shape))


def reference(bam, x, dilation, fusion):
    hidden = F.relu(
        bn_eval(F.linear(x.mean((2, 3)), bam.channel_fc1.weight,
                         bam.channel_fc1.bias), bam.channel_bn))
    mc = F.linear(hidden, bam.channel_fc2.weight, bam.channel_fc2.bias)
    # 1x1 reduction, then two 3x3 convolutions with dilation d, each followed
    # by BN and ReLU (authors' code).
    reduce, dilated1, dilated2 = bam.spatial_convs
    bn0, bn1, bn2 = bam.spatial_bns
    s = F.relu(bn_eval(F.conv2d(x, reduce.weight, reduce.bias), bn0))
    for conv, bn in ((dilated1, bn1), (dilated2, bn2)):
        s = F.relu(
            bn_eval(
                F.conv2d(s, conv.weight, conv.bias, padding=dilation,
                         dilation=dilation), bn))
    ms = F.conv2d(s, bam.spatial_out.weight, bam.spatial_out.bias)
    mc = mc[:, :, None, None]
    combined = mc + ms if fusion == 'sum' else mc * ms
    # Eq. 1: F' = F + F ⊗ σ(M_c + M_s).
    return x + x * torch.sigmoid(combined)


@pytest.mark.parametrize('fusion', ['sum', 'product'])
def test_gradients_match_paper_equations(fusion):
    bam = randomise(BAM(32, reduction=4, fusion=fusion), std=0.3).eval()
    assert_same_function(bam, lambda m, x: reference(m, x, 4, fusion),
                         torch.randn(2, 32, 9, 6))


@pytest.mark.parametrize('fusion', ['sum', 'product'])
@pytest.mark.parametrize('dilation', [4, 2])
def test_output_matches_paper_equations(fusion, dilation):
    bam = randomise(
        BAM(32, reduction=4, dilation=dilation, fusion=fusion), std=0.3).eval()
    x = torch.randn(2, 32, 9, 6)
    torch.testing.assert_close(bam(x), reference(bam, x, dilation, fusion))


def test_sum_and_product_fusion_differ():
    torch.manual_seed(1)
    bam = randomise(BAM(32, reduction=4), std=0.3).eval()
    product = BAM(32, reduction=4, fusion='product').eval()
    product.load_state_dict(bam.state_dict())
    x = torch.randn(2, 32, 5, 5)
    assert not torch.allclose(bam(x), product(x))


def test_reduction_larger_than_channels_is_rejected():
    with pytest.raises(ValueError,
                       match=r'BAM: reduction=32 .*in_channels=16'):
        BAM(16, reduction=32)


def test_non_positive_dilation_is_rejected():
    with pytest.raises(ValueError, match=r'BAM: dilation=0 is invalid'):
        BAM(64, dilation=0)


def test_unknown_fusion_is_rejected():
    with pytest.raises(ValueError,
                       match=r"BAM: fusion='max' is invalid; .*'sum'"):
        BAM(64, fusion='max')


VALIDATION_SPECS = {
    'BAM': ValidationSpec(
        values=dict(in_channels=[1, 4, 8, 16, 32],
                    reduction=[1, 2, 4, 16],
                    dilation=[1, 2, 4, 300],
                    fusion=['sum', 'product', 'max']),
        rules=[
            argument_rule('in_channels', is_channels),
            ('reduction', lambda kw: is_positive_int(kw['reduction']) and
             kw['reduction'] <= kw['in_channels']),
            argument_rule('dilation',
                          lambda d: is_positive_int(d, MAX_KERNEL_SIZE)),
            argument_rule('fusion',
                          lambda f: is_one_of(f, ('sum', 'product'))),
        ])
}
