import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import CBAM
from mmattn_test_utils import (ValidationSpec, argument_rule, is_bool,
                               is_channels, is_odd_kernel, is_positive_int,
                               randomise)


@pytest.mark.parametrize('channel,spatial', [(True, True), (True, False),
                                             (False, True)])
@pytest.mark.parametrize('channels,reduction,kernel', [(256, 16, 7),
                                                       (64, 4, 3)])
def test_parameter_count_matches_paper_formula(channel, spatial, channels,
                                               reduction, kernel):
    hidden = channels // reduction
    # Shared MLP C -> C/r -> C with biases: 2·C·C/r + C/r + C.
    channel_params = 2 * channels * hidden + hidden + channels
    # k×k conv from 2 maps to 1 (no bias) + BN affine: 2k² + 2.
    spatial_params = 2 * kernel * kernel + 2
    expected = channel * channel_params + spatial * spatial_params
    cbam = CBAM(channels, reduction, kernel, channel=channel, spatial=spatial)
    assert sum(p.numel() for p in cbam.parameters()) == expected


def reference(cbam, x):
    fc1, fc2 = cbam.channel_mlp[0], cbam.channel_mlp[2]

    def mlp(v):
        return F.linear(F.relu(F.linear(v, fc1.weight, fc1.bias)), fc2.weight,
                        fc2.bias)

    # Eq. 2: σ(MLP(AvgPool(F)) + MLP(MaxPool(F))).
    avg = x.mean((2, 3))
    mx = x.flatten(2).max(2).values
    refined = x * torch.sigmoid(mlp(avg) + mlp(mx))[:, :, None, None]
    # Eq. 3 with the authors' BN: σ(BN(f([max_c F'; mean_c F']))).
    pooled = torch.cat((refined.max(1, keepdim=True).values,
                        refined.mean(1, keepdim=True)), 1)
    k = cbam.spatial_conv.kernel_size[0]
    s = F.conv2d(pooled, cbam.spatial_conv.weight, padding=k // 2)
    bn = cbam.spatial_bn
    s = (s - bn.running_mean) / (bn.running_var + bn.eps).sqrt()
    s = s * bn.weight + bn.bias
    return refined, refined * torch.sigmoid(s)


def test_output_matches_channel_then_spatial_gate():
    cbam = randomise(CBAM(32, reduction=4), std=0.5).eval()
    x = torch.randn(2, 32, 5, 7)
    _, expected = reference(cbam, x)
    torch.testing.assert_close(cbam(x), expected)


def test_connectable_steps_give_channel_refined_map_and_output():
    cbam = randomise(CBAM(32, reduction=4), std=0.5).eval()
    x = torch.randn(2, 32, 6, 3)
    expected_refined, expected_out = reference(cbam, x)
    context = cbam.extract_channel(x)
    assert context.shape == (2, 2, 32)
    refined = x * cbam.transform_channel(context)
    torch.testing.assert_close(refined, expected_refined)
    spatial_context = cbam.extract_spatial(refined)
    assert spatial_context.shape == (2, 2, 6, 3)
    gate = cbam.transform_spatial(spatial_context)
    assert gate.shape == (2, 1, 6, 3)
    torch.testing.assert_close(refined * gate, expected_out)


def test_full_module_is_spatial_only_after_channel_only():
    full = randomise(CBAM(16, reduction=4), std=0.5).eval()
    channel_only = CBAM(16, reduction=4, spatial=False).eval()
    spatial_only = CBAM(16, reduction=4, channel=False).eval()
    channel_only.load_state_dict(full.state_dict(), strict=False)
    spatial_only.load_state_dict(full.state_dict(), strict=False)
    x = torch.randn(2, 16, 4, 5)
    torch.testing.assert_close(full(x), spatial_only(channel_only(x)))


def test_authors_init_zeroes_spatial_bn_so_spatial_gate_starts_at_half():
    cbam = randomise(CBAM(16, reduction=4), std=0.5).eval()
    cbam.init_weights()
    assert torch.all(cbam.spatial_bn.weight == 0)
    assert torch.all(cbam.channel_mlp[0].bias == 0)
    gate = cbam.transform_spatial(torch.randn(2, 2, 5, 5))
    torch.testing.assert_close(gate, torch.full_like(gate, 0.5))


def test_reduction_larger_than_channels_is_rejected():
    with pytest.raises(ValueError,
                       match=r'CBAM: reduction=32 .*in_channels=16'):
        CBAM(16, reduction=32)


@pytest.mark.parametrize('kernel', [4, 0])
def test_even_spatial_kernel_is_rejected(kernel):
    with pytest.raises(
            ValueError,
            match=rf'CBAM: spatial_kernel_size={kernel} is invalid; .*odd'):
        CBAM(16, spatial_kernel_size=kernel)


def test_disabling_both_gates_is_rejected():
    with pytest.raises(ValueError, match='CBAM: channel=False is invalid; '
                       'with spatial=False too, no gate would be applied'):
        CBAM(16, channel=False, spatial=False)


VALIDATION_SPECS = {
    'CBAM': ValidationSpec(
        values=dict(in_channels=[1, 4, 8, 16, 32],
                    reduction=[1, 2, 4, 16],
                    spatial_kernel_size=[1, 3, 7, 4],
                    channel=[True, True, False],
                    spatial=[True, True, False]),
        rules=[
            argument_rule('in_channels', is_channels),
            ('reduction', lambda kw: is_positive_int(kw['reduction']) and
             kw['reduction'] <= kw['in_channels']),
            argument_rule('spatial_kernel_size', is_odd_kernel),
            argument_rule('channel', is_bool),
            argument_rule('spatial', is_bool),
            ('channel', lambda kw: kw['channel'] or kw['spatial']),
        ])
}
