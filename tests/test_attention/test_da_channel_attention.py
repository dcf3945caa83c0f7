import pytest
import torch
from torch import nn

from mmattn.models.attention import DAChannelAttention
from mmattn_test_utils import (ValidationSpec, argument_rule,
                               init_under_parent, is_channels)


def test_only_parameter_is_beta():
    module = DAChannelAttention(256)
    assert [name for name, _ in module.named_parameters()] == ['beta']
    assert sum(p.numel() for p in module.parameters()) == 1


def _danet_cam(beta, x):
    """Paper eqs. 3-4 with the authors' max(E) - E, loop by loop."""
    b, c, h, w = x.shape
    out = torch.empty_like(x)
    for n in range(b):
        a = x[n].reshape(c, h * w)
        energy = a @ a.t()
        energy_new = energy.max(dim=-1, keepdim=True)[0].expand_as(energy) \
            - energy
        attention = torch.softmax(energy_new, dim=-1)
        out[n] = (beta * (attention @ a) + a).reshape(c, h, w)
    return out


@pytest.mark.parametrize('size', [(5, 7), (1, 1)])
def test_output_matches_danet_equations(size):
    module = DAChannelAttention(12)
    nn.init.constant_(module.beta, 0.5)
    x = torch.randn(3, 12, *size) * 0.3
    torch.testing.assert_close(module(x), _danet_cam(0.5, x))


def test_max_trick_is_softmax_of_negative_energy():
    # Documents the paper-vs-code difference stated in the docstring.
    module = DAChannelAttention(6)
    nn.init.constant_(module.beta, 1.0)
    x = torch.randn(2, 6, 4, 4) * 0.3
    a = x.flatten(2)
    attention = torch.softmax(-(a @ a.transpose(1, 2)), dim=-1)
    expected = (attention @ a).reshape(x.shape) + x
    torch.testing.assert_close(module(x), expected)


def test_beta_starts_at_zero_and_survives_a_parent_init():
    assert DAChannelAttention(8).beta.item() == 0
    cam = init_under_parent(DAChannelAttention(8), trained=True)
    assert cam.beta.item() == 0
    x = torch.randn(1, 8, 3, 5)
    torch.testing.assert_close(cam(x), x)


def test_invalid_in_channels_is_rejected():
    with pytest.raises(ValueError,
                       match=r'DAChannelAttention: in_channels=0 '):
        DAChannelAttention(0)


VALIDATION_SPECS = {
    'DAChannelAttention': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16, 64]),
        rules=[argument_rule('in_channels', is_channels)])
}
