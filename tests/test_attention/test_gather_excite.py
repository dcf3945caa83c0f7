import pytest
import torch

from mmattn.models.attention import GatherExcite
from mmattn.models.utils import MAX_KERNEL_SIZE
from mmattn_test_utils import (ValidationSpec, argument_rule, is_channels,
                               is_positive_int)


def test_has_no_parameters():
    for extent in ('global', 4):
        ge = GatherExcite(256, extent=extent)
        assert sum(p.numel() for p in ge.parameters()) == 0


def test_global_extent_gates_each_channel_by_sigmoid_of_its_mean():
    x = torch.randn(2, 8, 5, 7)
    expected = x * torch.sigmoid(x.mean((2, 3), keepdim=True))
    torch.testing.assert_close(GatherExcite(8)(x), expected)


def test_connectable_steps_compose_to_forward():
    ge = GatherExcite(8)
    x = torch.randn(2, 8, 3, 4)
    context = ge.extract(x)
    assert context.shape == (2, 8, 1, 1)
    torch.testing.assert_close(ge.transform(context), context.sigmoid())
    torch.testing.assert_close(ge(x), x * ge.transform(context))


@pytest.mark.parametrize('extent', [1, 2, 3, 8])
@pytest.mark.parametrize('size', [(1, 1), (5, 7), (9, 4), (1, 7)])
def test_finite_extent_averages_each_window_and_copies_it_back(extent, size):
    height, width = size
    x = torch.randn(2, 3, height, width)
    # Paper §3: position (i, j) is excited by the mean of the e×e window that
    # contains it; border windows are cut by the map's edge.
    gathered = torch.empty_like(x)
    for i in range(height):
        for j in range(width):
            top, left = i // extent * extent, j // extent * extent
            gathered[:, :, i, j] = x[:, :, top:top + extent,
                                     left:left + extent].mean((2, 3))
    torch.testing.assert_close(
        GatherExcite(3, extent=extent)(x), x * gathered.sigmoid())


@pytest.mark.parametrize('extent', [0, -2, 2.5, True, 'local', 256, 10**9])
def test_invalid_extent_is_rejected(extent):
    with pytest.raises(
            ValueError,
            match=r"GatherExcite: extent=.* is invalid; it must be 'global' "
            r'or an integer in \[1, 255\]'):
        GatherExcite(8, extent=extent)


VALIDATION_SPECS = {
    'GatherExcite': ValidationSpec(
        values=dict(in_channels=[1, 3, 8, 16],
                    extent=['global', 'global', 1, 2, 3, 8, 'local']),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('extent',
                          lambda e: e == 'global' or is_positive_int(
                              e, MAX_KERNEL_SIZE)),
        ])
}
