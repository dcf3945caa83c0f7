"""DCAResNet: parameter counts against the DCA paper, which blocks get
which layers, the state flowing across stages, gradients, with_cp,
frozen_stages, mmpretrain and mmdet."""

import inspect

import pytest
import torch

from mmattn.models.backbones import DCAResNet
from mmattn.models.connect import DCA
from mmattn.registry import MODELS, UnknownTypeError
from mmattn_test_utils import (argument_rule, is_one_of, is_positive_int,
                               resnet_rules, resnet_spec)

R50 = dict(type='AttnResNet', depth=50, out_indices=(3, ))


def plugin(name):
    return dict(R50, plugins=[dict(cfg=dict(type=name),
                                   position='after_conv3')])


# The plain attention ResNet-50s the paper compares against (its Table 1,
# ImageNet head), built from AttnResNet: (config, paper M, ours).
BASELINES = {
    'ResNet-50': (R50, 25.56, 25_557_032),
    'SE-ResNet-50': (plugin('SE'), 28.09, 28_088_024),
    'CBAM-ResNet-50': (plugin('CBAM'), 28.09, 28_089_624),
    'GC-ResNet-50': (plugin('GC'), 28.11, 28_105_032),
    # The DCA paper's SK variant: ungrouped 3×3 branches, d = C/16, and the
    # selected features go into conv3 without bn2.
    'SK-ResNet-50': (dict(R50, conv2_cfg=dict(type='SK', groups=1,
                                              min_channels=1),
                          conv2_norm=False), 37.12, 37_118_080),
}


@pytest.mark.parametrize('name', list(BASELINES))
def test_baseline_parameter_counts(imagenet_params, name):
    cfg, paper, ours = BASELINES[name]
    count = imagenet_params(cfg)
    assert count == ours
    assert abs(count / 1e6 - paper) <= 0.01


def dca_cfg(attention, depth=50, **kwargs):
    return dict(type='DCAResNet', depth=depth,
                attention=dict(type=attention), **kwargs)


# DCA-ResNet-50 (paper Tables 1 and 4 and its GE-θ⁻ row): (attention,
# channel matching, paper M, ours). The paper's counts are those of the
# authors' code, whose channel matching is '1fc' for SE, CBAM, SK and GE
# and '2fc' for GC; the '2fc' counts for SE (Table 4) and GE-θ⁻ (26.12M)
# are those of a 2-FC matching of width C/16 followed, like their 1-FC,
# by LayerNorm(C) + ReLU.
DCA_COUNTS = [
    ('SE', '2fc', 28.65, 28_645_285),
    ('SE', '1fc', 30.90, 30_881_029),
    ('CBAM', '1fc', 30.90, 30_882_704),
    ('GC', '2fc', 28.63, 28_625_399),
    ('SK', '1fc', 37.48, 37_482_458),
    ('GatherExcite', '2fc', 26.12, 26_114_293),
]
# The authors' models also build, in the network's first block, a 64 -> 256
# matching (64·256 + 256 + 2·256 with its LayerNorm/BN = 17,152; 5,936 for
# '2fc') and a connection (SE: 3 + 2·256 = 515; CBAM: 2 + 512 channel and
# 2 + 4 spatial = 520; SK: 2·(3 + 2·64) = 262; GE as SE), which never run
# since that block has no previous state: unused parameters, not built here.
# They put the '1fc' SE and CBAM counts 0.018M below the paper's.
FIRST_BLOCK_UNUSED = {
    ('SE', '1fc'): 17_152 + 515,
    ('CBAM', '1fc'): 17_152 + 520,
    ('SE', '2fc'): 5_936 + 515,
    ('GatherExcite', '2fc'): 5_936 + 515,
    ('SK', '1fc'): 262,
    # GC's first-block matching (64 -> 16 -> 256 with LN(16): 5,424) + α.
    ('GC', '2fc'): 5_424 + 1,
}


@pytest.mark.parametrize('attention,matching,paper,ours', DCA_COUNTS)
def test_dca_parameter_counts(imagenet_params, attention, matching, paper,
                              ours):
    count = imagenet_params(dca_cfg(attention, channel_matching=matching,
                                    out_indices=(3, )))
    assert count == ours
    authors = count + FIRST_BLOCK_UNUSED[attention, matching]
    assert abs(authors / 1e6 - paper) <= 0.005  # rounds to the paper's
    if (attention, matching) not in (('SE', '1fc'), ('CBAM', '1fc')):
        assert abs(count / 1e6 - paper) <= 0.01


def dca_modules(model):
    return {name: module for name, module in model.named_modules()
            if isinstance(module, DCA)}


@pytest.mark.parametrize('depth,attention,where', [
    (50, 'SE', 'connected'),
    (50, 'SK', 'conv2'),
    (18, 'CBAM', 'connected'),
])
def test_layers_per_block(depth, attention, where):
    model = DCAResNet(depth, attention=dict(type=attention))
    blocks = [f'{layer}.{i}' for layer in model.res_layers
              for i in range(len(getattr(model, layer)))]
    modules = dca_modules(model)
    assert list(modules) == [f'{b}.{where}' for b in blocks]
    first = modules[f'layer1.0.{where}']
    # The network's first block: the plain attention, nothing else.
    assert not first.connect and not first.match
    assert all(n.startswith('attention.')
               for n, _ in first.named_parameters())
    assert all(m.connect for name, m in modules.items()
               if name != f'layer1.0.{where}')
    # Matching only where the channels change: each later stage's first
    # block (for a BasicBlock ResNet layer1 keeps 64 channels).
    matched = [name for name, m in modules.items() if m.match]
    assert matched == [f'layer{i}.0.{where}' for i in (2, 3, 4)]


def test_sk_replaces_conv2_without_bn2():
    keys = DCAResNet(50, attention=dict(type='SK')).state_dict()
    assert 'layer1.0.conv2.attention.convs.1.weight' in keys
    assert 'layer2.0.conv2.match.branches.1.0.weight' in keys
    assert not any('.bn2.' in k for k in keys)
    # With bn2 kept, 2·C per block more.
    kept = DCAResNet(50, attention=dict(type='SK'), conv2_norm=True)
    extra = sum(p.numel() for p in kept.parameters()) - sum(
        p.numel() for p in DCAResNet(50, attention=dict(
            type='SK')).parameters())
    assert extra == 2 * (3 * 64 + 4 * 128 + 6 * 256 + 3 * 512)


def test_state_flows_across_stage_boundaries():
    model = DCAResNet(18, attention=dict(type='SE'))
    model.eval()
    received, produced = {}, {}

    def record(name):

        def hook(module, args, output):
            received[name] = args[1]
            produced[name] = output[1]

        return hook

    for name, module in dca_modules(model).items():
        module.register_forward_hook(record(name))
    model(torch.randn(1, 3, 64, 64))
    assert list(received['layer1.0.connected'].keys()) == []
    # layer2's first block reads what layer1's last block left.
    assert received['layer2.0.connected'] is produced['layer1.1.connected']
    assert produced['layer1.1.connected'].read(
        'channel', 'test').shape == (1, 1, 64)
    assert produced['layer2.0.connected'].read(
        'channel', 'test').shape == (1, 1, 128)


@pytest.mark.parametrize('attention,depth,connection', [
    ('SE', 50, 'direct'),
    ('GatherExcite', 50, 'weighted'),
    ('GC', 50, 'softmax'),
    ('CBAM', 50, 'direct'),
    ('SK', 50, 'weighted'),
    ('SE', 18, 'softmax'),
    ('GatherExcite', 18, 'direct'),
    ('GC', 18, 'weighted'),
    ('CBAM', 18, 'softmax'),
])
def test_every_parameter_gets_a_gradient(check_gradients, attention, depth,
                                         connection):
    check_gradients(dca_cfg(attention, depth, connection=connection,
                            norm_eval=False))


@pytest.mark.parametrize('cfg', [
    dca_cfg('CBAM', 18, channel_matching='1fc'),
    dca_cfg('SK', 50),
])
def test_with_cp_is_equal(check_with_cp, cfg):
    check_with_cp(cfg)


@pytest.mark.parametrize('cfg,key', [
    (dca_cfg('SE', 18), '.connected.'),
    (dca_cfg('SK', 50), '.conv2.'),
])
def test_frozen_stages_freeze_dca(check_frozen_stages, cfg, key):
    check_frozen_stages(cfg, key)


def test_mmpretrain_classifier(check_classifier_forward):
    check_classifier_forward(dca_cfg('GC', 18, out_indices=(3, )),
                             in_channels=512)


@pytest.mark.parametrize('kwargs,error,message', [
    (dict(depth=18, attention=dict(type='SK')), ValueError,
     r"DCAResNet: attention=\{'type': 'SK'\} is invalid with depth=18"),
    (dict(depth=50, attention=dict(type='ECA')), ValueError,
     r"DCAResNet: attention=\{'type': 'ECA'\} is invalid; DCA connects "
     r"\('CBAM', 'GC', 'GatherExcite', 'SE', 'SK'\)"),
    (dict(depth=50, attention=dict(type='PSA')), ValueError,
     r"DCAResNet: attention=\{'type': 'PSA'\} is invalid"),
    # A string used to fail with "dictionary update sequence element".
    (dict(depth=50, attention='SE'), TypeError,
     r"DCAResNet: attention='SE' is invalid; it must be a config dict"),
    # An in_channels of its own used to override the block's, then crash in
    # forward.
    (dict(depth=50, attention=dict(type='SE', in_channels=64)), ValueError,
     r"DCAResNet: attention=\{'type': 'SE', 'in_channels': 64\} is "
     r'invalid; DCAResNet sets in_channels itself'),
    (dict(depth=50, attention=dict(type='SK', stride=2)), ValueError,
     r'DCAResNet: attention=.* is invalid; DCAResNet sets stride itself'),
    (dict(depth=50, attention=dict(type='SEE')), UnknownTypeError,
     r"Unknown type 'SEE' at DCAResNet.attention.type"),
    (dict(depth=50, attention=dict(type='SK'), conv2_cfg=dict(type='PSA')),
     ValueError, r'DCAResNet: conv2_cfg=.* is invalid'),
    (dict(depth=50, connection='sum'), ValueError,
     r"DCAResNet: connection='sum' is invalid"),
    (dict(depth=50, channel_matching=1), ValueError,
     r"DCAResNet: channel_matching=1 is invalid"),
    (dict(depth=50, matching_reduction='16'), TypeError,
     r"DCAResNet: matching_reduction='16' is invalid"),
    (dict(depth=50, conv2_norm=False), ValueError,
     r'AttnBottleneck: conv2_norm=False is invalid without conv2_cfg'),
    (dict(depth=18, attention=dict(type='SE'), conv2_norm=False), ValueError,
     r'DCAResNet: conv2_norm=False is invalid with depth=18'),
])
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DCAResNet(**kwargs)


CONNECTABLE = ('CBAM', 'GC', 'GatherExcite', 'SE', 'SK')


def _attention(kw):
    return kw.get('attention') or dict(type='SE')


def _replaces_conv(kw):
    return _attention(kw)['type'] == 'SK'


VALIDATION_SPECS = {
    'DCAResNet': resnet_spec(
        values=dict(
            depth=[18, 50, 50, 26],
            base_channels=[16, 32],
            attention=[
                None, dict(type='SE'), dict(type='CBAM', reduction=4),
                dict(type='GC', ratio=0.25), dict(type='GatherExcite'),
                dict(type='SK'), 'SE', dict(type='ECA'),
                dict(type='SE', in_channels=8), dict(type='SE', ratio=4)
            ],
            connection=['direct', 'weighted', 'softmax', 'sum'],
            channel_matching=['1fc', '2fc', '3fc'],
            matching_reduction=[4, 16, 0]),
        rules=[
            argument_rule('depth',
                          lambda d: is_one_of(d, (18, 34, 50, 101, 152))),
            ('attention', lambda kw: kw.get('attention') is None or (
                isinstance(kw['attention'], dict)
                and 'type' in kw['attention'])),
            ('attention', lambda kw: _attention(kw)['type'] in CONNECTABLE),
            ('attention', lambda kw: not any(
                key in _attention(kw) for key in (
                    ('in_channels', 'out_channels', 'stride')
                    if _replaces_conv(kw) else ('in_channels', )))),
            ('attention', lambda kw: set(_attention(kw)) - {'type'} <= set(
                inspect.signature(MODELS.get(
                    _attention(kw)['type'])).parameters)),
            argument_rule('connection', lambda c: is_one_of(
                c, ('direct', 'weighted', 'softmax')), 'direct'),
            argument_rule('channel_matching',
                          lambda m: is_one_of(m, ('1fc', '2fc')), '2fc'),
            argument_rule('matching_reduction', is_positive_int, 16),
            ('attention', lambda kw: not _replaces_conv(kw)
             or kw['depth'] >= 50),
            ('conv2_cfg', lambda kw: not _replaces_conv(kw)
             or kw.get('conv2_cfg') is None),
        ] + resnet_rules(bottleneck_blocks=False,
                         conv2_replaced=_replaces_conv))
}
