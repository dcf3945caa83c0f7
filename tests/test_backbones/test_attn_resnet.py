"""AttnResNet: what it adds to mmdet's ResNet (plugins in BasicBlocks,
conv2 replacement, inner width, state threading) and what it must keep."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack
from mmdet.models.backbones import ResNet
from torch import nn

from mmattn.models.attention import EMA, SE
from mmattn.models.backbones import AttnResNet
from mmattn_test_utils import (argument_rule, is_one_of, randomise,
                               resnet_rules, resnet_spec)


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
     r'AttnResNet: conv2_cfg=.* is invalid with depth=18; it applies to '
     r'the 3x3 conv of a Bottleneck'),
    (dict(depth=34, width_multiplier=2),
     r'AttnResNet: width_multiplier=2 is invalid with depth=34'),
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


@pytest.mark.parametrize('kwargs,error,message', [
    # Used to return an empty tuple.
    (dict(out_indices=(-5, )), ValueError,
     r'AttnResNet: out_indices=\(-5,\) is invalid; it must be a stage index '
     r'or a list or tuple of them, in \[-4, 3\]'),
    # Used to fail on the first iteration inside a detector's FPN.
    (dict(out_indices=(-1, 0, 1, 2)), ValueError,
     r'AttnResNet: out_indices=\(-1, 0, 1, 2\) is invalid; .*each stage '
     r'once and in increasing order'),
    (dict(out_indices=(1, 1)), ValueError, r'AttnResNet: out_indices='),
    (dict(out_indices=()), ValueError, r'AttnResNet: out_indices='),
    (dict(out_indices=(4, )), ValueError, r'AttnResNet: out_indices='),
    (dict(out_indices=(0.0, )), TypeError, r'AttnResNet: out_indices='),
    # Used to be blamed on stage_with_conv2.
    (dict(num_stages=5), ValueError,
     r'AttnResNet: num_stages=5 is invalid; it must be an integer in '
     r'\[1, 4\]'),
    (dict(num_stages=3, strides=(1, 2, 2, 2)), ValueError,
     r'AttnResNet: strides=\(1, 2, 2, 2\) is invalid; it must be a list or '
     r'tuple of 3 integers in \[1, 255\], one per stage \(num_stages=3\)'),
    (dict(dilations=(1, 1, 0, 1)), ValueError, r'AttnResNet: dilations='),
    (dict(base_channels=0), ValueError, r'AttnResNet: base_channels=0 is '),
    (dict(base_channels=-8), ValueError, r'AttnResNet: base_channels=-8 is '),
    (dict(base_channels=8.0), TypeError, r'AttnResNet: base_channels=8.0 is '),
    (dict(base_channels=10**5), ValueError,
     r'AttnResNet: base_channels=100000 is invalid; it must be an integer'),
    (dict(base_channels=4096), ValueError,
     r'AttnResNet: base_channels=4096 is invalid; the last stage would have '
     r'131072 channels'),
    (dict(in_channels=0), ValueError, r'AttnResNet: in_channels=0 is '),
    (dict(in_channels='3'), TypeError, r"AttnResNet: in_channels='3' is "),
    (dict(stem_channels=None, base_channels=1, deep_stem=True), ValueError,
     r'AttnResNet: stem_channels=None is invalid; the deep stem halves it'),
    # Used to ask the allocator for 17 PB ('2' * planes).
    (dict(width_multiplier='2'), TypeError,
     r"AttnResNet: width_multiplier='2' is invalid; it must be a number"),
    (dict(width_multiplier=math.inf), ValueError,
     r'AttnResNet: width_multiplier=inf is invalid'),
    (dict(width_multiplier=0.01), ValueError,
     r'AttnResNet: width_multiplier=0.01 is invalid; the inner widths'),
    # Strings were taken as True.
    (dict(deep_stem='False'), TypeError,
     r"AttnResNet: deep_stem='False' is invalid; it must be True or False"),
    (dict(norm_eval='False'), TypeError, r"AttnResNet: norm_eval='False' "),
    (dict(with_cp=1), TypeError, r'AttnResNet: with_cp=1 is invalid'),
    (dict(conv2_norm='yes'), TypeError, r"AttnResNet: conv2_norm='yes' "),
    (dict(stage_with_conv2=(True, 'False', True, True)), TypeError,
     r'AttnResNet: stage_with_conv2='),
    (dict(style='tf'), ValueError, r"AttnResNet: style='tf' is invalid"),
    (dict(frozen_stages='1'), TypeError,
     r"AttnResNet: frozen_stages='1' is invalid"),
    (dict(norm_cfg='BN'), TypeError, r"AttnResNet: norm_cfg='BN' is invalid"),
    (dict(plugins=dict(cfg=dict(type='SE'), position='after_conv3')),
     TypeError, r'AttnResNet: plugins=.* is invalid; it must be a list'),
    (dict(plugins=[dict(cfg=dict(type='SE', in_channels=8),
                        position='after_conv3')]), ValueError,
     r'AttnResNet: plugins\[0\] cfg=.* is invalid; AttnResNet sets '
     r'in_channels itself'),
    (dict(conv2_cfg=dict(type='SK', stride=2)), ValueError,
     r'AttnResNet: conv2_cfg=.* is invalid; AttnResNet sets stride itself'),
    (dict(depth=18, dcn=dict(type='DCN'),
          stage_with_dcn=(False, True, True, True)),
     ValueError, r'AttnResNet: dcn=.* is invalid with depth=18'),
    (dict(dcn=dict(type='DCN'), stage_with_dcn=(False, True, True, True),
          conv2_cfg=dict(type='SK')),
     ValueError, r'AttnResNet: dcn=.* is invalid with conv2_cfg=.*both would '
     r'replace conv2 in stages \[1, 2, 3\]'),
    (dict(dcn=dict(type='DCN'), stage_with_dcn=(False, True, True, True),
          conv_cfg=dict(type='Conv2d')),
     ValueError, r'AttnResNet: dcn=.* is invalid with conv_cfg='),
    (dict(dcn=dict(type='DCN'), stage_with_dcn=(True, )), ValueError,
     r'AttnResNet: stage_with_dcn=\(True,\) is invalid; it needs one flag '
     r'per stage'),
    (dict(pretrained=1), TypeError, r'AttnResNet: pretrained=1 is invalid'),
    (dict(depth=50.0), ValueError, r'AttnResNet: depth=50.0 is invalid'),
    (dict(dephth=50), TypeError,
     r"AttnResNet: got an unexpected keyword argument 'dephth'"),
])
def test_bad_arguments_fail_first_naming_argument_and_value(
        kwargs, error, message):
    with pytest.raises(error, match=message):
        AttnResNet(**dict(dict(depth=50, base_channels=8), **kwargs))


def test_negative_out_indices_count_from_the_last_stage():
    # As in mmpretrain's ResNet, whose configs AttnResNet accepts.
    backbone = AttnResNet(18, base_channels=8, out_indices=(-3, -1)).eval()
    assert backbone.out_indices == (1, 3)
    outs = backbone(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [16, 64]


def test_defaults_per_stage_follow_num_stages():
    # mmdet asserts on its 4-stage defaults of strides and out_indices.
    backbone = AttnResNet(50, base_channels=8, num_stages=3).eval()
    outs = backbone(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [32, 64, 128]


@pytest.mark.parametrize('x,error,message', [
    (torch.randn(3, 32, 32), ValueError,
     r'AttnResNet: the input has shape \(3, 32, 32\); expected '
     r'\(B, 3, H, W\)'),
    (torch.randn(1, 1, 32, 32), ValueError,
     r'AttnResNet: the input has shape \(1, 1, 32, 32\); expected '
     r'\(B, 3, H, W\)'),
    (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), TypeError,
     r'AttnResNet: the input has dtype torch.uint8; expected a '
     r'floating-point tensor'),
])
def test_wrong_input_is_named(x, error, message):
    with pytest.raises(error, match=message):
        AttnResNet(18, base_channels=8)(x)


def test_width_multiplier_keeps_deformable_conv2():
    """mmdet's Bottleneck builds a DCN conv2; the wider bottleneck used to
    rebuild it as a plain conv."""
    backbone = AttnResNet(
        50, base_channels=8, width_multiplier=2,
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True)).eval()
    assert isinstance(backbone.layer1[0].conv2, nn.Conv2d)
    for layer in (backbone.layer2, backbone.layer3, backbone.layer4):
        for block in layer:
            assert isinstance(block.conv2, ModulatedDeformConv2dPack)
            assert block.conv2.in_channels == block.conv2.out_channels == \
                2 * block.planes
    outs = backbone(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [32, 64, 128, 256]


def test_blocks_expose_mmdets_plugin_attributes():
    backbone = AttnResNet(50, base_channels=8, plugins=[
        dict(cfg=dict(type='SE', reduction=4), position='after_conv3',
             stages=(False, True, True, True)),
        dict(cfg=dict(type='ECA'), position='after_conv1')])
    first, second = backbone.layer1[0], backbone.layer2[0]
    assert first.with_plugins and second.with_plugins
    assert first.after_conv1_plugin_names == ['eca']
    assert first.after_conv2_plugin_names == []
    assert first.after_conv3_plugin_names == []
    assert second.after_conv3_plugin_names == ['se']
    assert not AttnResNet(18, base_channels=8).layer1[0].with_plugins


@pytest.mark.parametrize('depth,position', [(50, 'after_conv1'),
                                            (50, 'after_conv2'),
                                            (50, 'after_conv3'),
                                            (18, 'after_conv1'),
                                            (18, 'after_conv2')])
def test_plugin_position_matches_hand_computation(depth, position):
    """A block with a plugin against its layers applied by hand. Random BN
    weights and statistics: with the default ones BN is nearly the identity
    and a plugin on the wrong side of a BN would go unnoticed."""
    backbone = AttnResNet(depth, base_channels=8, num_stages=1, plugins=[
        dict(cfg=dict(type='SE', reduction=2), position=position)])
    block = randomise(backbone.layer1[0], std=0.5).eval()
    x = torch.randn(2, 8, 6, 5)

    def bn(t, norm):
        shape = (1, -1, 1, 1)
        return ((t - norm.running_mean.reshape(shape)) /
                (norm.running_var.reshape(shape) + norm.eps).sqrt() *
                norm.weight.reshape(shape) + norm.bias.reshape(shape))

    def after(t, conv):
        return block.se(t) if position == f'after_{conv}' else t

    out = after(F.relu(bn(block.conv1(x), block.norm1)), 'conv1')
    if depth == 50:
        out = after(F.relu(bn(block.conv2(out), block.norm2)), 'conv2')
        out = after(bn(block.conv3(out), block.norm3), 'conv3')
        identity = bn(block.downsample[0](x), block.downsample[1])
    else:
        out = after(bn(block.conv2(out), block.norm2), 'conv2')
        identity = x
    with torch.no_grad():
        torch.testing.assert_close(block(x), F.relu(out + identity))


@pytest.mark.parametrize('depth', [18, 50])
def test_frozen_stages_freeze_plugins(check_frozen_stages, depth):
    check_frozen_stages(
        dict(type='AttnResNet', depth=depth, base_channels=16, plugins=[
            dict(cfg=dict(type='SE', reduction=4),
                 position='after_conv1')]), '.se.')


VALIDATION_SPECS = {
    'AttnResNet': resnet_spec(
        values=dict(
            depth=[18, 50, 50, 26],
            base_channels=[4, 8, 16],
            # mmcv's CPU deformable conv refuses maps smaller than its
            # dilated kernel (test_width_multiplier_keeps_deformable_conv2
            # runs one): dcn gets only wild values besides None.
            dcn=[None],
            stage_with_dcn=[(False, True, True, True), (True, )],
            plugins=[
                None,
                [dict(cfg=dict(type='ECA'), position='after_conv1')],
                [dict(cfg=dict(type='GatherExcite', extent=2),
                      position='after_conv2',
                      stages=(False, True, True, True))],
                [dict(cfg=dict(type='ECA', in_channels=8),
                      position='after_conv2')],
            ],
            conv2_cfg=[None, dict(type='SK', groups=1, min_channels=4),
                       dict(type='SK', stride=2)],
            stage_with_conv2=[(False, True, True, True), (True, )],
            conv2_norm=[True, False],
            width_multiplier=[1, 2, 0.5, 0.01]),
        rules=[argument_rule('depth',
                             lambda d: is_one_of(d, (18, 34, 50, 101, 152)))
               ] + resnet_rules(bottleneck_blocks=False))
}
