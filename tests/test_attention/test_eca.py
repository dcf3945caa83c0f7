import math

import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import ECA
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               is_channels, is_odd_kernel)


def adaptive_kernel(channels):
    # ECA-Net eq. 12: k = |log2(C)/γ + b/γ|_odd with γ=2, b=1.
    k = int(abs(math.log2(channels) / 2 + 1 / 2))
    return k if k % 2 == 1 else k + 1


@pytest.mark.parametrize('channels,kernel', [(64, 3), (256, 5), (512, 5),
                                             (2048, 7)])
def test_adaptive_kernel_gives_k_parameters(channels, kernel):
    assert adaptive_kernel(channels) == kernel
    eca = ECA(channels)
    # One shared 1-D kernel, no bias: k parameters.
    assert sum(p.numel() for p in eca.parameters()) == kernel


def test_explicit_kernel_size_overrides_adaptive_one():
    assert sum(p.numel() for p in ECA(256, kernel_size=3).parameters()) == 3


@pytest.mark.parametrize('kernel_size', [None, 3, 7])
def test_gate_is_1d_convolution_across_channels_of_pooled_vector(
        kernel_size):
    eca = ECA(16, kernel_size=kernel_size)
    x = torch.randn(2, 16, 5, 3)
    w = eca.conv.weight.reshape(-1)
    k = w.numel()
    y = F.pad(x.mean((2, 3)), (k // 2, k // 2))  # zero padding at both ends
    logits = torch.stack(
        [(y[:, c:c + k] * w).sum(1) for c in range(16)], dim=1)
    torch.testing.assert_close(eca(x), x * logits.sigmoid()[:, :, None, None])


def test_extract_and_transform_compose_to_forward():
    eca = ECA(32)
    x = torch.randn(3, 32, 4, 6)
    context = eca.extract(x)
    assert context.shape == (3, 32)
    torch.testing.assert_close(eca(x), x * eca.transform(context))


@pytest.mark.parametrize('kernel_size', [4, 0, -3])
def test_even_or_non_positive_kernel_is_rejected(kernel_size):
    with pytest.raises(
            ValueError,
            match=rf'ECA: kernel_size={kernel_size} is invalid; .*odd'):
        ECA(64, kernel_size=kernel_size)


def test_non_positive_channels_are_rejected():
    with pytest.raises(ValueError, match=r'ECA: in_channels=0 is invalid'):
        ECA(0)


VALIDATION_SPECS = {
    'ECA': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16, 64, 256],
                    kernel_size=[OMIT, None, 1, 3, 5, 4]),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('kernel_size',
                          lambda k: k is None or is_odd_kernel(k)),
        ])
}
