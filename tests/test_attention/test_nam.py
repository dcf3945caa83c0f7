import pytest
import torch

from mmattn.models.attention import NAM
from mmattn_test_utils import (ValidationSpec, argument_rule,
                               assert_same_function, is_channels, randomise)


@pytest.mark.parametrize('channels', [64, 256, 24])
def test_parameter_count_matches_paper_formula(channels):
    # Only the BN affine: γ and β per channel.
    assert sum(p.numel() for p in NAM(channels).parameters()) == 2 * channels


def reference(nam, x, gamma, training):
    bn = nam.bn
    if training:
        mu, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
    else:
        mu, var = bn.running_mean, bn.running_var
    x_hat = (x - mu[:, None, None]) / (var[:, None, None] + bn.eps).sqrt()
    bn_out = x_hat * gamma[:, None, None] + bn.bias[:, None, None]
    w = gamma.detach().abs() / gamma.detach().abs().sum()  # paper eq. 2
    return x * torch.sigmoid(w[:, None, None] * bn_out)


@pytest.mark.parametrize('training', [True, False])
def test_gradients_match_the_equations(training):
    nam = randomise(NAM(16)).train(training)
    x = torch.randn(3, 16, 5, 7)
    assert_same_function(
        nam, lambda m, x: reference(m, x, m.bn.weight, training), x)


@pytest.mark.parametrize('training', [True, False])
def test_gate_is_sigmoid_of_bn_output_weighted_by_normalised_abs_gamma(
        training):
    nam = randomise(NAM(16)).train(training)
    x = torch.randn(3, 16, 5, 7)
    torch.testing.assert_close(nam(x),
                               reference(nam, x, nam.bn.weight, training))


def test_channel_weights_do_not_backpropagate_into_gamma():
    nam = randomise(NAM(8)).eval()
    x = torch.randn(2, 8, 3, 3)
    nam(x).square().sum().backward()
    gamma = nam.bn.weight.detach().clone().requires_grad_()
    reference(nam, x, gamma, training=False).square().sum().backward()
    torch.testing.assert_close(nam.bn.weight.grad, gamma.grad)


def test_invalid_channels_are_rejected():
    with pytest.raises(ValueError, match=r'NAM: in_channels=0 is invalid'):
        NAM(0)


VALIDATION_SPECS = {
    'NAM': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16, 64]),
        rules=[argument_rule('in_channels', is_channels)])
}
