import pytest
import torch
from mmcv.cnn.bricks.context_block import ContextBlock

from mmattn.models.attention import GC
from mmattn_test_utils import (ValidationSpec, argument_rule, is_channels,
                               is_number_in, is_one_of, randomise)


def test_is_mmcv_context_block_with_its_names_and_outputs():
    reference = ContextBlock(64, 1 / 16)
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_(std=0.3)
    gc = GC(64)
    gc.load_state_dict(reference.state_dict())  # same names and shapes
    x = torch.randn(2, 64, 5, 7)
    torch.testing.assert_close(gc(x), reference(x))
    torch.testing.assert_close(gc.extract(x), reference.spatial_pool(x))
    context = gc.extract(x)
    torch.testing.assert_close(gc(x), x + gc.transform(context))
    assert gc.transform(context).shape == (2, 64, 1, 1)


def test_parameter_count():
    # conv_mask C + 1; C -> C/16 conv, LN(C/16), C/16 -> C conv (with bias).
    c, hidden = 256, 16
    expected = (c + 1) + (c * hidden + hidden) + 2 * hidden + (hidden * c + c)
    assert sum(p.numel() for p in GC(c).parameters()) == expected


def test_init_starts_as_identity_after_parent_init():
    gc = GC(32)
    with torch.no_grad():
        for p in gc.parameters():
            p.fill_(0.5)
    gc.init_weights()
    assert torch.all(gc.channel_add_conv[-1].weight == 0)
    assert not torch.all(gc.channel_add_conv[0].weight == 0.5)
    assert torch.all(gc.channel_add_conv[1].weight == 1)
    x = torch.randn(1, 32, 4, 4)
    torch.testing.assert_close(gc(x), x)


@pytest.mark.parametrize('kwargs,message', [
    (dict(ratio=0), r'GC: ratio=0 is invalid'),
    (dict(ratio=1 / 64), r'GC: ratio=0.015625 is invalid'),
    (dict(pooling_type='max'), r"GC: pooling_type='max' is invalid"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GC(32, **kwargs)


def test_ratio_of_the_wrong_type_is_rejected():
    with pytest.raises(TypeError, match=r"GC: ratio='1/16' is invalid"):
        GC(32, ratio='1/16')


@pytest.mark.parametrize('layout', ['channels_last', 'transposed'])
def test_non_contiguous_input_gives_the_contiguous_output(layout):
    # mmcv's attention pooling flattens with view(), which used to fail
    # with "view size is not compatible with input tensor's size and
    # stride".
    gc = randomise(GC(16, ratio=1 / 4), std=0.5).eval()
    x = torch.randn(2, 16, 5, 7)
    if layout == 'channels_last':
        strided = x.to(memory_format=torch.channels_last)
    else:
        strided = x.transpose(2, 3).contiguous().transpose(2, 3)
    assert not strided.is_contiguous()
    torch.testing.assert_close(gc(strided), gc(x))


VALIDATION_SPECS = {
    'GC': ValidationSpec(
        values=dict(in_channels=[1, 4, 16, 32, 64],
                    ratio=[1 / 16, 1 / 4, 1, 1.5],
                    pooling_type=['att', 'att', 'avg', 'max']),
        rules=[
            argument_rule('in_channels', is_channels),
            argument_rule('ratio', lambda r: is_number_in(r, 0, 1)),
            ('ratio', lambda kw: int(kw['in_channels'] * kw['ratio']) >= 1),
            argument_rule('pooling_type',
                          lambda p: is_one_of(p, ('att', 'avg'))),
        ])
}
