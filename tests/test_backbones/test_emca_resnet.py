"""EMCAResNet: structure, state recording, parameter counts against the
EMCA paper, gradients, with_cp, frozen_stages, mmdet and mmpretrain."""
import pytest
import torch

from mmattn.models.backbones import EMCAResNet
from mmattn.models.connect import EMCA, AttentionState, EMCASqueeze
from mmattn.models.utils import eca_kernel_size
from mmattn_test_utils import (argument_rule, is_one_of, resnet_rules,
                               resnet_spec)

# ImageNet classifiers (GAP + 1000-class linear head) of plain ResNets.
RESNET = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032}

# Ours, measured, against the EMCA paper (millions). The paper's Tables
# 3-5 survive only as captions in the text we have; its Table 2, rows
# "First" (one module on each stage's first block), gives:
#
#   depth  SE: paper / ours     ECA: paper / ours    SRM: paper / ours
#   18     11.189 / 11.734      11.148 / 11.690      11.150 / 11.693
#   34     20.829 / 21.842      20.788 / 21.798      20.790 / 21.802
#   50     25.037 / 26.257      24.373 / 25.557      24.380 / 25.572
#
# The paper's plain ResNets (its ECA columns: 11.148 / 20.788 / 24.373) are
# ECA-Net's published counts, not those of the torchvision/mmdet ResNets
# (11.690 / 21.798 / 25.557), so no absolute count can match. What EMCA
# adds: ECA +0.000 in both; SE +0.041 / +0.041 / +0.664 in the paper,
# +0.045 / +0.045 / +0.700 here (SE-Net's SE with biases, C//16 hidden);
# SRM +0.002 / +0.002 / +0.007 in the paper, i.e. 2C per module (the
# channel-wise FC only), +0.004 / +0.004 / +0.015 here (SRM's BN adds 2C).
# Defaults: placement='first', coverage='previous_stage_all'.
OURS = {
    (18, 'SE'): 11_734_063, (18, 'ECA'): 11_689_541, (18, 'SRM'): 11_693_363,
    (34, 'SE'): 21_842_230, (34, 'ECA'): 21_797_708, (34, 'SRM'): 21_801_530,
    (50, 'SE'): 26_257_450, (50, 'ECA'): 25_557_072, (50, 'SRM'): 25_572_410,
}


def backbone_cfg(depth=18, **kwargs):
    return dict(type='EMCAResNet', depth=depth, norm_eval=False, **kwargs)


def emca_modules(model):
    return {name: module for name, module in model.named_modules()
            if isinstance(module, EMCA)}


def expected_increment(depth, excitation):
    """R weights plus the excitation of each stage's first block."""
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}[depth]
    expansion = 1 if depth < 50 else 4
    total = 0
    for stage in range(4):
        channels = 64 * 2**stage * expansion
        coverage = 2 if stage == 0 else 1 + blocks[stage - 1]  # stem / N
        excite = {
            'SE': 2 * channels * (channels // 16) + channels // 16 + channels,
            'ECA': eca_kernel_size(channels),
            'SRM': 4 * channels,
        }[excitation]
        total += coverage + excite
    return total


@pytest.mark.parametrize('depth', [18, 34, 50])
@pytest.mark.parametrize('excitation', ['SE', 'ECA', 'SRM'])
def test_imagenet_parameter_count(imagenet_params, depth, excitation):
    count = imagenet_params(
        backbone_cfg(depth, excitation=excitation, out_indices=(3, )),
        in_channels=512 if depth < 50 else 2048)
    assert count == OURS[depth, excitation]
    assert count == RESNET[depth] + expected_increment(depth, excitation)


@pytest.mark.parametrize('depth,coverage,coverages', [
    (18, 'previous_stage_all', (2, 3, 3, 3)),
    (18, 'previous_stage_last', (2, 2, 2, 2)),
    (18, 'every_stage_last', (2, 3, 4, 5)),
    (50, 'previous_stage_all', (2, 4, 5, 7)),
    (50, 'every_stage_last', (2, 3, 4, 5)),
])
def test_coverage_region_sets_r(depth, coverage, coverages):
    model = EMCAResNet(depth, coverage=coverage)
    modules = emca_modules(model)
    assert list(modules) == [f'layer{i}.0.connected' for i in range(1, 5)]
    assert tuple(m.coverage for m in modules.values()) == coverages
    assert tuple(m.aggregate.kernel_size[0]
                 for m in modules.values()) == coverages


def test_coverage_sources_and_channels():
    model = EMCAResNet(50, coverage='every_stage_last')
    sources = model.layer4[0].connected.sources
    assert sources == ('stem', 'layer1.2', 'layer2.3', 'layer3.5')
    # Tiling stem 64, 256, 512, 1024 channels to 2048.
    assert model.layer4[0].connected.repeats == (32, 8, 4, 2)
    assert EMCAResNet(50).layer3[0].connected.sources == tuple(
        f'layer2.{i}' for i in range(4))
    assert EMCAResNet(18).layer1[0].connected.sources == ('stem', )


@pytest.mark.parametrize('placement,blocks', [
    ('first', ['layer1.0', 'layer2.0', 'layer3.0', 'layer4.0']),
    ('last', ['layer1.2', 'layer2.3', 'layer3.5', 'layer4.2']),
    ('all', [f'layer{s + 1}.{i}' for s, n in enumerate((3, 4, 6, 3))
             for i in range(n)]),
])
def test_placement(placement, blocks):
    model = EMCAResNet(34, placement=placement)
    assert list(emca_modules(model)) == [f'{b}.connected' for b in blocks]


@pytest.mark.parametrize('coverage,recorded', [
    ('previous_stage_all',
     {'stem', 'layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0',
      'layer3.1'}),
    ('previous_stage_last', {'stem', 'layer1.1', 'layer2.1', 'layer3.1'}),
    ('every_stage_last', {'stem', 'layer1.1', 'layer2.1', 'layer3.1'}),
])
def test_state_records_only_what_modules_read(coverage, recorded):
    model = EMCAResNet(18, coverage=coverage)
    states = []
    last = model.layer4[1]
    forward_with_state = last.forward_with_state

    def spy(x, state):
        states.append(state)
        return forward_with_state(x, state)

    last.forward_with_state = spy
    model(torch.rand(1, 3, 64, 64))
    assert set(states[-1].keys()) == recorded
    # Block outputs are squeezed by GAP: (B, C, 1).
    assert states[-1].read('layer3.1', 'test').shape == (1, 256, 1)
    squeezers = {name: m.key for name, m in model.named_modules()
                 if isinstance(m, EMCASqueeze)}
    assert set(squeezers.values()) == recorded
    # Each squeezes the input of the block after the one it names.
    assert squeezers['layer1.0.connected_input'] == 'stem'
    assert squeezers['layer2.0.connected_input'] == 'layer1.1'


@pytest.mark.parametrize('excitation,stats', [('ECA', 1), ('SRM', 2)])
def test_recorded_descriptors_are_what_the_reader_extracts(excitation,
                                                           stats):
    model = EMCAResNet(18, excitation=excitation,
                       excitation_cfg=dict(eps=1e-3) if excitation == 'SRM'
                       else None, coverage='previous_stage_last')
    reader = model.layer2[0].connected
    squeezer = model.layer2[0].connected_input
    out = torch.rand(2, 64, 16, 16) * 3
    _, state = squeezer(out, AttentionState(dict(stem=torch.zeros(2, 64, 1))))
    assert set(state.keys()) == {'stem', 'layer1.1'}
    recorded = state.read('layer1.1', 'test')
    assert recorded.shape == (2, 64, stats)
    # Stacked descriptors are alike: the reader's excitation extracts the
    # same from the same map.
    torch.testing.assert_close(
        recorded, reader.excite.extract(out).reshape(2, 64, -1))


# A Latin square: every excitation meets every coverage and every
# placement, and every coverage every placement, in 9 cases.
@pytest.mark.parametrize('excitation,coverage,placement', [
    (excitation, coverage, EMCAResNet.placements[(i + j) % 3])
    for i, excitation in enumerate(('SE', 'ECA', 'SRM'))
    for j, coverage in enumerate(EMCAResNet.coverages)
])
def test_every_parameter_gets_a_gradient(check_gradients, excitation,
                                         coverage, placement):
    check_gradients(backbone_cfg(18, excitation=excitation,
                                 coverage=coverage, placement=placement))


@pytest.mark.parametrize('excitation', ['SE', 'ECA', 'SRM'])
def test_every_parameter_gets_a_gradient_bottleneck_authors(
        check_gradients, excitation):
    check_gradients(backbone_cfg(50, excitation=excitation, refine='authors',
                                 coverage='every_stage_last',
                                 placement='all'))


@pytest.mark.parametrize('cfg', [
    backbone_cfg(18, excitation='SRM', placement='all'),
    backbone_cfg(50, excitation='SE', coverage='every_stage_last',
                 refine='authors'),
])
def test_with_cp_is_equal(check_with_cp, cfg):
    check_with_cp(cfg)


@pytest.mark.parametrize('depth', [18, 50])
def test_frozen_stages_freeze_emca(check_frozen_stages, depth):
    check_frozen_stages(backbone_cfg(depth, excitation='SRM'), '.connected.')


def test_mmpretrain_classifier_depth_18(check_classifier_forward):
    check_classifier_forward(backbone_cfg(18, out_indices=(3, )),
                             in_channels=512)
    keys = EMCAResNet(18).state_dict()
    assert 'layer2.0.connected.aggregate.weight' in keys
    assert 'layer2.0.connected.excite.fc1.weight' in keys


@pytest.mark.parametrize('kwargs,message', [
    (dict(coverage='all_stages_all'),
     r"EMCAResNet: coverage='all_stages_all' is invalid; it must be one of"),
    (dict(placement='middle'),
     r"EMCAResNet: placement='middle' is invalid; it must be one of"),
    (dict(excitation='GE'), r"EMCAResNet: excitation='GE' is invalid"),
    (dict(refine='both'), r"EMCAResNet: refine='both' is invalid"),
    (dict(excitation_cfg=dict(in_channels=8)),
     r"EMCAResNet: excitation_cfg=\{'in_channels': 8\} is invalid; "
     r'EMCAResNet sets in_channels itself'),
])
def test_invalid_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EMCAResNet(18, **kwargs)


@pytest.mark.parametrize('kwargs,message', [
    (dict(excitation_cfg='reduction=4'),
     r"EMCAResNet: excitation_cfg='reduction=4' is invalid; it must be a "
     r'dict'),
    # Used to fail inside ECA with "unexpected keyword argument".
    (dict(excitation='ECA', excitation_cfg=dict(reduction=4)),
     r"EMCAResNet: excitation_cfg=\{'reduction': 4\} is invalid; ECA takes "
     r'no argument reduction'),
])
def test_excitation_cfg_of_the_wrong_kind_is_rejected(kwargs, message):
    with pytest.raises(TypeError, match=message):
        EMCAResNet(18, **kwargs)


EXCITATION_ARGUMENTS = {'SE': ('reduction', 'act_cfg', 'gate_cfg', 'init_cfg'),
                        'ECA': ('kernel_size', 'init_cfg'),
                        'SRM': ('eps', 'init_cfg')}


def _excitation_cfg(kw):
    return kw.get('excitation_cfg') or {}


VALIDATION_SPECS = {
    'EMCAResNet': resnet_spec(
        values=dict(
            depth=[18, 50, 50, 26],
            base_channels=[16, 32],
            excitation=['SE', 'ECA', 'SRM', 'GC'],
            coverage=['previous_stage_last', 'previous_stage_all',
                      'every_stage_last', 'all'],
            placement=['first', 'last', 'all', 'middle'],
            refine=['paper', 'authors', 'both'],
            excitation_cfg=[None, dict(reduction=4), dict(kernel_size=3),
                            dict(eps=1e-3), dict(in_channels=8),
                            dict(type='SE')]),
        rules=[
            argument_rule('coverage', lambda c: is_one_of(
                c, EMCAResNet.coverages), 'previous_stage_all'),
            argument_rule('placement', lambda p: is_one_of(
                p, EMCAResNet.placements), 'first'),
            argument_rule('excitation', lambda e: is_one_of(
                e, tuple(EXCITATION_ARGUMENTS)), 'SE'),
            argument_rule('refine',
                          lambda r: is_one_of(r, ('paper', 'authors')),
                          'paper'),
            argument_rule('excitation_cfg',
                          lambda c: c is None or isinstance(c, dict)),
            ('excitation_cfg', lambda kw: not any(
                key in _excitation_cfg(kw)
                for key in ('type', 'in_channels'))),
            ('excitation_cfg', lambda kw: set(_excitation_cfg(kw)) <= set(
                EXCITATION_ARGUMENTS[kw.get('excitation', 'SE')])),
            argument_rule('depth',
                          lambda d: is_one_of(d, (18, 34, 50, 101, 152))),
        ] + resnet_rules(bottleneck_blocks=False))
}
