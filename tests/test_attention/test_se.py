import pytest
import torch

from mmattn.models.attention import SE


@pytest.mark.parametrize('channels,reduction', [(64, 16), (256, 16), (96, 4)])
def test_parameter_count_matches_paper_formula(channels, reduction):
    hidden = channels // reduction
    expected = 2 * channels * hidden + hidden + channels  # 2C²/r + C/r + C
    assert sum(p.numel() for p in SE(channels, reduction).parameters()) == expected


def test_output_is_input_scaled_by_channel_gate():
    se = SE(32, reduction=4)
    x = torch.randn(2, 32, 5, 7)
    gate = torch.sigmoid(se.fc2(torch.relu(se.fc1(x.mean((2, 3), keepdim=True)))))
    torch.testing.assert_close(se(x), x * gate)


def test_reduction_larger_than_channels_is_rejected():
    with pytest.raises(ValueError, match=r'SE: reduction=32 .*in_channels=16'):
        SE(16, reduction=32)
