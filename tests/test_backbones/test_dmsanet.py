import inspect

import pytest

from mmattn.models.attention import DMSA
from mmattn.models.backbones import DMSANet
from mmattn_test_utils import (OMIT, argument_rule, is_one_of, psa_rule,
                               resnet_arg, resnet_rules, resnet_spec)


# mmattn's DMSANet = EPSANet (Small) + one DMSAUnit per DMSA, the unit
# having c² + 3c + 2d(c + 1) + 2 parameters (c = C'/8 with the default
# attn_groups=4, d = max(1, c // 8)): 22,561,715 + 1,984 for -50 and
# 38,900,279 + 3,820 for -101. The paper reports 26.25M / 42.29M; its extra
# 3.69M (-50) exceeds its extra 3.39M (-101), so it cannot come from a module
# in every block. Pinned exactly so that a change of the module is noticed.
@pytest.mark.parametrize('depth,ours,paper', [(50, 22_563_699, 26.25e6),
                                              (101, 38_904_099, 42.29e6)])
def test_parameter_count(imagenet_params, depth, ours, paper):
    count = imagenet_params(dict(type='DMSANet', depth=depth,
                                 out_indices=(3, )))
    assert count == ours
    assert paper - count > 3e6


def test_every_conv2_is_dmsa_and_takes_dmsa_cfg():
    model = DMSANet(50, dmsa_cfg=dict(norm='GN', attn_groups=2))
    blocks = [b for name in model.res_layers for b in getattr(model, name)]
    assert len(blocks) == 16
    assert all(type(b.conv2).__name__ == 'DMSA' for b in blocks)
    assert blocks[0].conv2.dual_attention.groups == 2


def test_invalid_depth():
    with pytest.raises(ValueError, match='DMSANet: depth=152 is invalid'):
        DMSANet(152)


@pytest.mark.parametrize('kwargs,error,message', [
    (dict(dmsa_cfg=dict(type='PSA')), ValueError,
     r"DMSANet: dmsa_cfg=\{'type': 'PSA'\} is invalid; DMSANet sets type "
     r'itself'),
    (dict(dmsa_cfg=dict(groups=(1, 1, 1, 1), reduction=4)), TypeError,
     r'DMSANet: dmsa_cfg=.* is invalid; DMSA takes no argument reduction'),
    (dict(dmsa_cfg='GN'), TypeError, r"DMSANet: dmsa_cfg='GN' is invalid"),
    (dict(conv2_cfg=dict(type='PSA')), TypeError,
     r'DMSANet: conv2_cfg=.* is invalid; .* configured by dmsa_cfg'),
])
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DMSANet(50, **kwargs)


def test_classifier_forward(check_classifier_forward):
    check_classifier_forward(dict(type='DMSANet', depth=50,
                                  out_indices=(3, )))


def test_every_parameter_gets_a_gradient(check_gradients):
    check_gradients(dict(type='DMSANet', depth=50))


def test_frozen_stages_freeze_dmsa(check_frozen_stages):
    check_frozen_stages(dict(type='DMSANet', depth=50),
                        'conv2.dual_attention.')


def test_with_cp_matches(check_with_cp):
    check_with_cp(dict(type='DMSANet', depth=50, out_indices=(3, )))


def _dmsa_cfg(kw):
    return kw.get('dmsa_cfg') or {}


def _attn_groups_rule(kw):
    """DMSA's own check of the first (narrowest) bottleneck's DMSA."""
    branch = resnet_arg(kw, 'base_channels') // 4
    if branch % (2 * _dmsa_cfg(kw).get('attn_groups', 4)):
        return 'attn_groups', 'DMSA'
    return None


VALIDATION_SPECS = {
    'DMSANet': resnet_spec(
        values=dict(
            depth=[50, 50, 101, 34],
            # Stage 1-2 only: position attention at every block.
            num_stages=[1, 2, 2, 2, 5],
            base_channels=[64, 64, 64, 32],
            dmsa_cfg=[None, dict(norm='GN'), dict(attn_groups=2),
                      dict(attn_groups=8), dict(type='PSA'),
                      dict(in_channels=8), dict(reduction=4)],
            conv2_cfg=[dict(type='DMSA')]),
        rules=[
            argument_rule('conv2_cfg', lambda c: c is OMIT, OMIT),
            argument_rule('dmsa_cfg',
                          lambda c: c is None or isinstance(c, dict)),
            ('dmsa_cfg', lambda kw: not any(
                key in _dmsa_cfg(kw)
                for key in ('type', 'in_channels', 'out_channels',
                            'stride'))),
            ('dmsa_cfg', lambda kw: set(_dmsa_cfg(kw)) <= set(
                inspect.signature(DMSA).parameters)),
            argument_rule('depth', lambda d: is_one_of(d, (50, 101))),
        ] + resnet_rules(bottleneck_blocks=True) + [
            psa_rule('DMSA', lambda kw: (1, 4, 8, 16), lambda kw: 1),
            _attn_groups_rule,
        ],
        bottleneck_blocks=True,
        required=('depth', 'num_stages', 'base_channels'),
        max_side=32)
}
