import pytest
import torch

from mmattn.models.attention import SE
from mmattn_test_utils import (OMIT, ValidationSpec, argument_rule, is_cfg,
                               is_channels, is_positive_int)


@pytest.mark.parametrize('channels,reduction', [(64, 16), (256, 16), (96, 4)])
def test_parameter_count_matches_paper_formula(channels, reduction):
    hidden = channels // reduction
    expected = 2 * channels * hidden + hidden + channels  # 2C²/r + C/r + C
    assert sum(p.numel() for p in SE(channels, reduction).parameters()) == expected


@pytest.mark.parametrize('channels,reduction', [(24, 16), (100, 16), (10, 4),
                                                (40, 16)])
def test_hidden_width_is_channels_floor_divided_by_reduction(
        channels, reduction):
    # The paper's C/r where r does not divide C: rounded down, ⌊C/r⌋ (the
    # README's parameter formula); rounding up gives one channel more.
    se = SE(channels, reduction)
    hidden = channels // reduction
    assert hidden < channels / reduction
    assert se.fc1.out_channels == se.fc2.in_channels == hidden
    assert sum(p.numel() for p in se.parameters()) == \
        2 * channels * hidden + hidden + channels


def test_output_is_input_scaled_by_channel_gate():
    se = SE(32, reduction=4)
    x = torch.randn(2, 32, 5, 7)
    gate = torch.sigmoid(se.fc2(torch.relu(se.fc1(x.mean((2, 3), keepdim=True)))))
    torch.testing.assert_close(se(x), x * gate)


VALIDATION_SPECS = {
    'SE': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16, 24, 64],
                    reduction=[1, 2, 4, 16, 32],
                    act_cfg=[OMIT, dict(type='GELU')],
                    gate_cfg=[OMIT, dict(type='HSigmoid')]),
        rules=[
            argument_rule('in_channels', is_channels),
            ('reduction', lambda kw: is_positive_int(kw['reduction']) and
             kw['reduction'] <= kw['in_channels']),
            argument_rule('act_cfg', is_cfg, dict(type='ReLU')),
            argument_rule('gate_cfg', is_cfg, dict(type='Sigmoid')),
        ])
}
