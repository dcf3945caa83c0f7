"""AttnResNet: what it adds to mmdet's ResNet (plugins in BasicBlocks,
conv2 replacement, inner width, state threading) and what it must keep."""
import pytest
import torch
from mmdet.models.backbones import ResNet

from mmattn.models.attention import EMA, SE
from mmattn.models.backbones import AttnResNet


def ema_c3_c5(position='after_conv3'):
    return [dict(cfg=dict(type='EMA'), stages=(False, True, True, True),
                 position=position)]


def test_without_attention_equals_mmdet_resnet():
    for depth in (18, 50):
        ours, theirs = AttnResNet(depth), ResNet(depth)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        ours.load_state_dict(theirs.state_dict())
        ours.eval()
        theirs.eval()
        x = torch.randn(1, 3, 64, 64)
        for a, b in zip(ours(x), theirs(x)):
            torch.testing.assert_close(a, b)


def test_plugins_in_basic_blocks():
    backbone = AttnResNet(18, plugins=ema_c3_c5('after_conv2') + [
        dict(cfg=dict(type='SE', reduction=4), position='after_conv1')])
    assert not hasattr(backbone.layer1[0], 'ema')
    assert isinstance(backbone.layer2[1].ema, EMA)
    assert isinstance(backbone.layer1[0].se, SE)
    assert backbone.layer4[0].ema.conv1x1.in_channels == 512 // 32
    outs = backbone(torch.randn(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]


def test_ema_resnet50_parameter_count():
    """EMA after bn3 of every bottleneck of ResNet-50: 10·Cg² + 4·Cg per
    block, Cg = 4·planes/32, summed over the 3/4/6/3 blocks."""
    plain = sum(p.numel() for p in AttnResNet(50).parameters())
    backbone = AttnResNet(50, plugins=[dict(cfg=dict(type='EMA'),
                                            position='after_conv3')])
    added = sum(p.numel() for p in backbone.parameters()) - plain
    expected = sum(n * (10 * cg * cg + 4 * cg)
                   for n, cg in ((3, 8), (4, 16), (6, 32), (3, 64)))
    assert added == expected == 198_368


def test_conv2_replacement_per_stage_and_width():
    backbone = AttnResNet(50, conv2_cfg=dict(type='PSA'),
                          stage_with_conv2=(False, True, True, True),
                          width_multiplier=2)
    assert isinstance(backbone.layer1[0].conv2, torch.nn.Conv2d)
    block = backbone.layer2[0]
    assert type(block.conv2).__name__ == 'PSA'
    # width 2·planes inside, 4·planes out; stride on the replacement.
    assert block.conv1.out_channels == 256 and block.conv3.in_channels == 256
    assert block.conv3.out_channels == 512 and block.conv2.convs[0].stride == (2, 2)
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (256, 16, 16), (512, 8, 8), (1024, 4, 4), (2048, 2, 2)]


def test_zero_init_residual_reaches_our_blocks():
    backbone = AttnResNet(50)
    backbone.init_weights()
    assert torch.all(backbone.layer1[0].bn3.weight == 0)
    basic = AttnResNet(18)
    basic.init_weights()
    assert torch.all(basic.layer1[0].bn2.weight == 0)


def test_plugin_init_survives_backbone_init():
    backbone = AttnResNet(50, plugins=[dict(cfg=dict(type='SE'),
                                            position='after_conv3')])
    backbone.init_weights()
    fc = backbone.layer3[0].se.fc1
    # PyTorch's default bound 1/sqrt(fan_in), not Kaiming's wider normal.
    assert fc.weight.abs().max() <= fc.in_channels ** -0.5


def test_train_returns_self_and_keeps_norm_eval():
    backbone = AttnResNet(18, norm_eval=True)
    assert backbone.train() is backbone
    assert not backbone.layer1[0].bn1.training


@pytest.mark.parametrize('kwargs,message', [
    (dict(depth=18, plugins=ema_c3_c5('after_conv3')),
     r"AttnBasicBlock: plugin position 'after_conv3' does not exist; "
     r"positions of this block are \('after_conv1', 'after_conv2'\)"),
    (dict(depth=18, conv2_cfg=dict(type='PSA')),
     r'AttnBasicBlock: conv2_cfg=.* is invalid'),
    (dict(depth=34, width_multiplier=2),
     r'AttnBasicBlock: width_multiplier=2 is invalid'),
    (dict(depth=50, conv2_norm=False),
     r'AttnBottleneck: conv2_norm=False is invalid without conv2_cfg'),
    (dict(depth=26), r'AttnResNet: depth=26 is invalid; it must be one of'),
    (dict(depth=50, frozen_stages=5),
     r'AttnResNet: frozen_stages=5 is invalid; it must lie in \[-1, '
     r'num_stages=4\]'),
    (dict(depth=50, stage_with_conv2=(True, )),
     r'AttnResNet: stage_with_conv2=\(True,\) is invalid'),
    (dict(depth=50, plugins=[dict(cfg=dict(type='SE'), position='after_conv3'),
                             dict(cfg=dict(type='SE'), position='after_conv3')]),
     r"two plugins are named 'se'; give one a distinct 'postfix'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttnResNet(**kwargs)
