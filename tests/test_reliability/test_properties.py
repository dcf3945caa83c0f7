"""Property-based tests (hypothesis) of every registered attention module.

For each plugin and conv replacement, hypothesis draws a configuration
(input channels, from 0 to 128, valid or not for the module, and the
module's own arguments), a batch of 1-3, a spatial size of 1..97 per side,
float32 or bfloat16 (module and input converted, no autocast) and train or
eval mode. ``SPECS`` states, per module, which configurations are valid:

* a valid one builds, and its output has the right shape (the input's for
  a plugin, a 3×3 conv's with padding 1 for a conv replacement), the
  input's dtype and only finite values;
* an invalid one raises ``ValueError`` from the constructor, with the
  module's name at the start of the message (mmattn's validators), never
  an IndexError/RuntimeError/ZeroDivisionError from deep inside torch.

Examples per module: ``MAX_EXAMPLES`` (25), ``deadline=None``. Each test
prints how many cases ran, valid and invalid (``pytest -s`` shows them),
and asserts that both kinds ran for every module.
"""
from collections import Counter

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmattn.registry import CONV_REPLACEMENT, MODELS, PLUGIN, list_models

MAX_EXAMPLES = 25
#: Modules whose cost grows with (H·W)²: their spatial size is capped so
#: that 25 examples stay well under a second each on 2 CPU cores.
POSITION_ATTENTION = {'DAPositionAttention', 'NonLocal', 'DMSAUnit', 'DMSA'}
MAX_POSITION_SIDE = 48

CHANNELS = st.one_of(
    st.integers(0, 40), st.sampled_from([16, 32, 48, 64, 96, 128]))
SIDES = st.integers(1, 97)
COMMON = st.fixed_dictionaries(
    dict(batch=st.integers(1, 3),
         dtype=st.sampled_from([torch.float32, torch.bfloat16]),
         training=st.booleans()))


def _divides(divisor, value):
    return value >= 1 and value % divisor == 0


def _odd(kernel):
    return kernel % 2 == 1


# name -> (strategy of the module's own arguments,
#          valid(in_channels, kwargs) for a plugin,
#          valid(in_channels, out_channels, kwargs) for a conv replacement)
PLUGIN_SPECS = {
    'BAM': (st.fixed_dictionaries(
        dict(reduction=st.sampled_from([1, 4, 16]),
             dilation=st.sampled_from([1, 4]),
             fusion=st.sampled_from(['sum', 'product']))),
            lambda c, kw: 1 <= kw['reduction'] <= c),
    'CBAM': (st.fixed_dictionaries(
        dict(reduction=st.sampled_from([1, 16]),
             spatial_kernel_size=st.sampled_from([3, 4, 7]))),
             lambda c, kw: kw['reduction'] <= c
             and _odd(kw['spatial_kernel_size'])),
    'CoordAttention': (st.fixed_dictionaries(
        dict(reduction=st.sampled_from([8, 32]))), lambda c, kw: c >= 1),
    'DAChannelAttention': (st.just({}), lambda c, kw: c >= 1),
    'DAPositionAttention': (st.fixed_dictionaries(
        dict(reduction=st.sampled_from([1, 8]),
             chunk_size=st.sampled_from([None, 7, 2048]))),
        lambda c, kw: kw['reduction'] <= c),
    'DMSAUnit': (st.fixed_dictionaries(
        dict(groups=st.sampled_from([1, 2, 4, 32]),
             norm=st.sampled_from(['IN', 'BN', 'GN', 'none']),
             chunk_size=st.sampled_from([None, 5, 2048]))),
        lambda c, kw: _divides(2 * kw['groups'], c)),
    'ECA': (st.fixed_dictionaries(
        dict(kernel_size=st.sampled_from([None, 3, 4]))),
        lambda c, kw: c >= 1 and (kw['kernel_size'] is None
                                  or _odd(kw['kernel_size']))),
    'EMA': (st.fixed_dictionaries(dict(factor=st.sampled_from([1, 4, 32]))),
            lambda c, kw: _divides(kw['factor'], c)),
    'GC': (st.fixed_dictionaries(
        dict(ratio=st.sampled_from([1 / 16, 1 / 4]),
             pooling_type=st.sampled_from(['att', 'avg']))),
        lambda c, kw: c >= 1 and int(c * kw['ratio']) >= 1),
    'GatherExcite': (st.fixed_dictionaries(
        dict(extent=st.sampled_from(['global', 0, 1, 2, 3]))),
        lambda c, kw: c >= 1 and kw['extent'] != 0),
    'MultiSpectralAttention': (st.fixed_dictionaries(
        dict(reduction=st.sampled_from([1, 16]),
             dct_h=st.sampled_from([7, 14]),
             freq_sel_method=st.sampled_from(['top16', 'low4', 'bot1']))),
        lambda c, kw: _divides(int(kw['freq_sel_method'][3:]), c)
        and kw['reduction'] <= c),
    'NAM': (st.just({}), lambda c, kw: c >= 1),
    'NonLocal': (st.fixed_dictionaries(
        dict(reduction=st.sampled_from([1, 2]),
             scaled=st.booleans(),
             chunk_size=st.sampled_from([None, 6]))),
        lambda c, kw: kw['reduction'] <= c),
    'SE': (st.fixed_dictionaries(dict(reduction=st.sampled_from([1, 16]))),
           lambda c, kw: kw['reduction'] <= c),
    'SRM': (st.just({}), lambda c, kw: c >= 1),
    'ShuffleAttention': (st.fixed_dictionaries(
        dict(groups=st.sampled_from([1, 2, 64]))),
        lambda c, kw: _divides(2 * kw['groups'], c)),
    'TripletAttention': (st.fixed_dictionaries(
        dict(kernel_size=st.sampled_from([3, 4, 7]),
             no_spatial=st.booleans())),
        lambda c, kw: c >= 1 and _odd(kw['kernel_size'])),
}


def _psa_valid(cin, cout, kw):
    groups = kw.get('groups', (1, 4, 8, 16))
    branch = cout // 4 if _divides(4, cout) else 0
    return branch >= 1 and all(
        _divides(g, cin) and _divides(g, branch) for g in groups)


CONV_SPECS = {
    'PSA': (st.fixed_dictionaries(
        dict(groups=st.sampled_from([(1, 4, 8, 16), (1, 1, 1, 1)]))),
        _psa_valid),
    'SK': (st.fixed_dictionaries(
        dict(groups=st.sampled_from([1, 8, 32]),
             branches=st.sampled_from([1, 2, 3]))),
        lambda cin, cout, kw: _divides(kw['groups'], cin)
        and _divides(kw['groups'], cout) and kw['branches'] >= 2),
    'DMSA': (st.fixed_dictionaries(
        dict(groups=st.sampled_from([(1, 4, 8, 16), (1, 1, 1, 1)]),
             attn_groups=st.sampled_from([1, 4]),
             norm=st.sampled_from(['IN', 'BN']))),
        lambda cin, cout, kw: _psa_valid(cin, cout, kw)
        and _divides(2 * kw['attn_groups'], cout // 4)),
}

COUNTS = Counter()


def _check_invalid(name, build):
    with pytest.raises(ValueError) as info:
        build()
    assert str(info.value).startswith(f'{name}:'), str(info.value)


def _run(module, x, common):
    module = module.to(common['dtype']).train(common['training'])
    with torch.no_grad():
        return module(x.to(common['dtype']))


def _check_output(name, out, expected_shape, common):
    assert out.shape == expected_shape, name
    assert out.dtype == common['dtype'], name
    assert torch.isfinite(out).all(), name


def _sides(name):
    if name in POSITION_ATTENTION:
        return st.integers(1, MAX_POSITION_SIDE)
    return SIDES


def _report(name):
    valid, invalid = COUNTS[name, True], COUNTS[name, False]
    print(f'\n{name}: {valid + invalid} cases ({valid} valid, '
          f'{invalid} invalid)')
    assert valid and invalid, f'{name}: valid={valid} invalid={invalid}'


def test_every_registered_module_has_a_spec():
    assert set(PLUGIN_SPECS) == set(list_models(PLUGIN))
    assert set(CONV_SPECS) == set(list_models(CONV_REPLACEMENT))


@pytest.mark.parametrize('name', sorted(PLUGIN_SPECS))
def test_plugin_properties(name):
    kwargs_strategy, is_valid = PLUGIN_SPECS[name]

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(channels=CHANNELS, kwargs=kwargs_strategy, height=_sides(name),
           width=_sides(name), common=COMMON)
    def check(channels, kwargs, height, width, common):
        valid = is_valid(channels, kwargs)
        COUNTS[name, valid] += 1

        def build():
            return MODELS.build(
                dict(type=name, in_channels=channels, **kwargs))

        if not valid:
            _check_invalid(name, build)
            return
        x = torch.randn(common['batch'], channels, height, width)
        out = _run(build(), x, common)
        _check_output(name, out, x.shape, common)

    check()
    _report(name)


@pytest.mark.parametrize('name', sorted(CONV_SPECS))
def test_conv_replacement_properties(name):
    kwargs_strategy, is_valid = CONV_SPECS[name]

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(in_channels=CHANNELS, out_channels=CHANNELS,
           stride=st.sampled_from([1, 2]), kwargs=kwargs_strategy,
           height=_sides(name), width=_sides(name), common=COMMON)
    def check(in_channels, out_channels, stride, kwargs, height, width,
              common):
        valid = is_valid(in_channels, out_channels, kwargs)
        COUNTS[name, valid] += 1

        def build():
            return MODELS.build(
                dict(type=name, in_channels=in_channels,
                     out_channels=out_channels, stride=stride, **kwargs))

        if not valid:
            _check_invalid(name, build)
            return
        x = torch.randn(common['batch'], in_channels, height, width)
        out = _run(build(), x, common)
        expected = (common['batch'], out_channels,
                    (height - 1) // stride + 1, (width - 1) // stride + 1)
        _check_output(name, out, expected, common)

    check()
    _report(name)
