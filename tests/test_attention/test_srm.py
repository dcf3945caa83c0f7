import pytest
import torch

from mmattn.models.attention import SRM


def randomize(srm):
    with torch.no_grad():
        srm.cfc.weight.normal_()
        srm.bn.weight.uniform_(0.5, 1.5)
        srm.bn.bias.normal_()
        srm.bn.running_mean.normal_()
        srm.bn.running_var.uniform_(0.5, 2.0)
    return srm


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
def test_output_matches_style_pooling_cfc_bn_sigmoid(training):
    srm = randomize(SRM(16)).train(training)
    x = torch.randn(4, 16, 5, 7)
    expected = x * reference_gate(srm, x, training)
    torch.testing.assert_close(srm(x), expected)


def test_style_pool_and_channel_fc_are_the_first_two_steps():
    srm = randomize(SRM(8))
    x = torch.randn(2, 8, 3, 5)
    style = srm.style_pool(x)
    assert style.shape == (2, 8, 2)
    torch.testing.assert_close(style[..., 0], x.mean((2, 3)))
    torch.testing.assert_close(style[..., 1],
                               (x.var((2, 3), unbiased=False) + 1e-5).sqrt())
    z = srm.channel_fc(style)
    assert z.shape == (2, 8, 1, 1)
    w = srm.cfc.weight.reshape(8, 2)
    torch.testing.assert_close(z[:, :, 0, 0], (style * w).sum(2))


def test_std_of_a_single_position_is_sqrt_eps_not_nan():
    style = SRM(4, eps=1e-4).style_pool(torch.randn(3, 4, 1, 1))
    torch.testing.assert_close(style[..., 1], torch.full((3, 4), 1e-2))


def test_authors_init_starts_every_gate_at_one_half():
    srm = randomize(SRM(8))
    srm.init_weights()
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(srm(x), x * 0.5)


def test_single_image_in_training_uses_running_statistics():
    srm = randomize(SRM(8))
    x = torch.randn(1, 8, 3, 3)
    running_mean = srm.bn.running_mean.clone()
    out_train = srm.train()(x)
    torch.testing.assert_close(srm.bn.running_mean, running_mean)
    torch.testing.assert_close(out_train, srm.eval()(x))


@pytest.mark.parametrize('eps', [0, -1e-5])
def test_non_positive_eps_is_rejected(eps):
    with pytest.raises(ValueError, match=r'SRM: eps=.* is invalid; .*> 0'):
        SRM(8, eps=eps)
