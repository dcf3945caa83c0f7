"""WideGroupConv2d computes nn.Conv2d's function (outputs and gradients)
with its thin groups merged into wider ones on CPU."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmattn.models.utils import WideGroupConv2d, block_diagonal


@pytest.mark.parametrize('in_channels,out_channels,kernel,groups,stride', [
    (64, 16, 9, 16, 1),   # EPSANet-50 Small, stage 1: 4 -> 1 per group
    (64, 16, 7, 8, 2),    # 8 -> 2 per group, strided
    (128, 32, 5, 32, 1),  # EPSANet-50 Large, stage 1: 4 -> 1
    (96, 48, 3, 6, 1),    # 16 -> 8: merged by 3
    (256, 64, 9, 8, 1),   # 32 -> 8: already wide, unchanged
])
def test_outputs_and_gradients_equal_the_plain_conv(in_channels,
                                                    out_channels, kernel,
                                                    groups, stride):
    wide = WideGroupConv2d(in_channels, out_channels, kernel, stride,
                           padding=kernel // 2, groups=groups, bias=True)
    plain = nn.Conv2d(in_channels, out_channels, kernel, stride,
                      padding=kernel // 2, groups=groups, bias=True)
    plain.load_state_dict(wide.state_dict())
    x = torch.randn(2, in_channels, 11, 9, requires_grad=True)
    x_plain = x.detach().clone().requires_grad_()
    out, reference = wide(x), plain(x_plain)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    reference.backward(grad)
    torch.testing.assert_close(x.grad, x_plain.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(wide.weight.grad, plain.weight.grad,
                               rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(wide.bias.grad, plain.bias.grad)


@pytest.mark.parametrize('in_channels,groups,merged', [
    (64, 16, 2), (64, 8, 2), (64, 4, 2), (64, 1, 1), (128, 32, 4),
    (256, 32, 8), (16, 4, 1), (1024, 32, 32)])
def test_groups_widen_to_32_input_channels_on_cpu(in_channels, groups,
                                                  merged):
    conv = WideGroupConv2d(in_channels, groups, 3, groups=groups)
    assert conv._cpu_groups() == merged
    assert conv.groups == groups  # what the parameters and counts say


def test_block_diagonal_places_each_group_on_the_diagonal():
    weight = torch.arange(1., 7.).reshape(6, 1, 1, 1)  # 6 groups of 1 -> 1
    wide = block_diagonal(weight, groups=6, factor=3)
    assert wide.shape == (6, 3, 1, 1)
    expected = torch.tensor([[1, 0, 0], [0, 2, 0], [0, 0, 3],
                             [4, 0, 0], [0, 5, 0], [0, 0, 6]],
                            dtype=torch.float)
    torch.testing.assert_close(wide[..., 0, 0], expected)
    x = torch.randn(1, 6, 4, 4)
    torch.testing.assert_close(F.conv2d(x, wide, groups=2),
                               F.conv2d(x, weight, groups=6))


def test_channels_last_input_gives_a_channels_last_output():
    conv = WideGroupConv2d(64, 16, 9, padding=4, groups=16)
    x = torch.randn(2, 64, 10, 10).contiguous(
        memory_format=torch.channels_last)
    out = conv(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, conv(x.contiguous()))
