import math

import pytest
import torch

from mmattn.models.attention import SRM
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               assert_same_function, is_channels, is_number_in,
                               randomise)


@pytest.mark.parametrize('channels', [64, 256, 24])
def test_parameter_count_matches_paper_formula(channels):
    # CFC: 2 weights per channel; BN: γ and β per channel.
    expected = 2 * channels + 2 * channels
    assert sum(p.numel() for p in SRM(channels).parameters()) == expected


def reference_gate(srm, x, training):
    # Style pooling (eqs. 1-3), population std with the module's epsilon.
    mean = x.mean((2, 3))
    std = ((x - mean[:, :, None, None])**2).mean((2, 3)).add(srm.eps).sqrt()
    w = srm.cfc.weight.reshape(-1, 2)
    z = w[:, 0] * mean + w[:, 1] * std  # channel-wise FC (eq. 4)
    if training:
        mu, var = z.mean(0), z.var(0, unbiased=False)
    else:
        mu, var = srm.bn.running_mean, srm.bn.running_var
    z_hat = (z - mu) / (var + srm.bn.eps).sqrt() * srm.bn.weight + srm.bn.bias
    return torch.sigmoid(z_hat)[:, :, None, None]


@pytest.mark.parametrize('training', [True, False])
def test_gradients_match_style_pooling_cfc_bn_sigmoid(training):
    srm = randomise(SRM(16)).train(training)
    assert_same_function(
        srm, lambda m, x: x * reference_gate(m, x, training),
        torch.randn(4, 16, 5, 7) * 3 + 1)


@pytest.mark.parametrize('training', [True, False])
def test_output_matches_style_pooling_cfc_bn_sigmoid(training):
    srm = randomise(SRM(16)).train(training)
    x = torch.randn(4, 16, 5, 7)
    expected = x * reference_gate(srm, x, training)
    torch.testing.assert_close(srm(x), expected)


def test_extract_is_style_pooling_and_transform_the_gate():
    srm = randomise(SRM(8)).eval()
    x = torch.randn(2, 8, 3, 5)
    style = srm.extract(x)
    assert style.shape == (2, 8, 2)
    torch.testing.assert_close(style[..., 0], x.mean((2, 3)))
    torch.testing.assert_close(style[..., 1],
                               (x.var((2, 3), unbiased=False) + 1e-5).sqrt())
    gate = srm.transform(style)
    assert gate.shape == (2, 8, 1, 1)
    w = srm.cfc.weight.reshape(8, 2)
    z = (style * w).sum(2)
    bn = srm.bn
    expected = ((z - bn.running_mean) / (bn.running_var + bn.eps).sqrt() *
                bn.weight + bn.bias).sigmoid()
    torch.testing.assert_close(gate[:, :, 0, 0], expected)


def test_std_of_a_single_position_is_sqrt_eps_not_nan():
    style = SRM(4, eps=1e-4).extract(torch.randn(3, 4, 1, 1))
    torch.testing.assert_close(style[..., 1], torch.full((3, 4), 1e-2))


def test_authors_init_starts_every_gate_at_one_half():
    srm = randomise(SRM(8))
    srm.init_weights()
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(srm(x), x * 0.5)


def test_single_image_in_training_uses_running_statistics():
    srm = randomise(SRM(8))
    x = torch.randn(1, 8, 3, 3)
    running_mean = srm.bn.running_mean.clone()
    out_train = srm.train()(x)
    torch.testing.assert_close(srm.bn.running_mean, running_mean)
    torch.testing.assert_close(out_train, srm.eval()(x))


@pytest.mark.parametrize('eps', [0, -1e-5, math.inf, math.nan, 2])
def test_eps_outside_zero_one_is_rejected(eps):
    # eps=inf made every output NaN.
    with pytest.raises(ValueError,
                       match=r'SRM: eps=.* is invalid; .*number in \(0, 1\]'):
        SRM(8, eps=eps)


VALIDATION_SPECS = {
    'SRM': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16, 64],
                    eps=[OMIT, 1e-5, 1e-3, 1, 2]),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('eps', lambda eps: is_number_in(eps, 0, 1), 1e-5),
        ])
}
