import pytest
import torch
import torch.nn.functional as F

from mmattn.models.attention import TripletAttention
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule,
                               assert_same_function, is_bool, is_cfg,
                               is_channels, is_odd_kernel, randomise)


def _reference(ta, x, hw_batch_stats=None):
    """The authors' formulation: rotate x, gate it, rotate back, average."""

    def gate(branch, t, batch_stats=ta.training):
        conv, bn = branch
        pooled = torch.cat([t.max(1, keepdim=True)[0],
                            t.mean(1, keepdim=True)], dim=1)  # Z-pool
        y = F.conv2d(pooled, conv.weight, padding=conv.padding)
        y = F.batch_norm(y, bn.running_mean.clone(), bn.running_var.clone(),
                         bn.weight, bn.bias, batch_stats, bn.momentum, bn.eps)
        return t * torch.sigmoid(y)

    out_cw = gate(ta.cw, x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
    out_hc = gate(ta.hc, x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
    if ta.no_spatial:
        return (out_cw + out_hc) / 2
    if hw_batch_stats is None:
        hw_batch_stats = ta.training
    return (out_cw + out_hc + gate(ta.hw, x, hw_batch_stats)) / 3


@pytest.mark.parametrize('kernel_size,no_spatial', [(7, False), (3, False),
                                                    (7, True)])
def test_parameter_count_matches_paper_formula(kernel_size, no_spatial):
    branches = 2 if no_spatial else 3
    # per branch: conv 2→1 k×k without bias + BN weight and bias
    expected = branches * (2 * kernel_size**2 + 2)
    model = TripletAttention(64, kernel_size, no_spatial)
    assert sum(p.numel() for p in model.parameters()) == expected
    if kernel_size == 7 and not no_spatial:
        assert expected == 300


@pytest.mark.parametrize('train', [False, True])
@pytest.mark.parametrize('shape', [(2, 8, 5, 7), (1, 8, 1, 6), (2, 8, 1, 1)])
@pytest.mark.parametrize('no_spatial', [False, True])
def test_output_matches_rotated_branches(shape, train, no_spatial):
    ta = randomise(TripletAttention(8, no_spatial=no_spatial), std=0.3)
    ta.train(train)
    x = torch.randn(*shape)
    expected = _reference(ta, x)
    torch.testing.assert_close(ta(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('train', [False, True])
@pytest.mark.parametrize('no_spatial', [False, True])
def test_gradients_match_rotated_branches(train, no_spatial):
    ta = randomise(TripletAttention(8, no_spatial=no_spatial), std=0.3)
    assert_same_function(ta.train(train), _reference, torch.randn(2, 8, 5, 7))


def test_single_value_spatial_gate_uses_running_statistics_in_training():
    # Batch 1 on a 1×1 map leaves one value for the H-W gate's BatchNorm; it
    # falls back to the running statistics instead of raising, while the
    # C-W and H-C gates (C values each) still use batch statistics.
    ta = randomise(TripletAttention(8), std=0.3).train()
    x = torch.randn(1, 8, 1, 1)
    running_mean = ta.hw[1].running_mean.clone()
    torch.testing.assert_close(ta(x), _reference(ta, x, hw_batch_stats=False),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ta.hw[1].running_mean, running_mean)


VALIDATION_SPECS = {
    'TripletAttention': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16],
                    kernel_size=[1, 3, 7, 4],
                    no_spatial=[False, True],
                    norm_cfg=[OMIT, dict(type='GN', num_groups=1)]),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('kernel_size', is_odd_kernel),
            argument_rule('no_spatial', is_bool),
            argument_rule('norm_cfg', is_cfg, dict(type='BN')),
        ])
}
