"""Generated validation suite: every registered attention module and
backbone against careless and hostile arguments and inputs.

For each registered module, ``CASES`` seeded cases draw constructor
arguments from the ``VALIDATION_SPECS`` declared in the module's own test
file (``tests/test_attention/test_<file>.py`` or
``tests/test_backbones/test_<file>.py`` for ``mmattn/models/.../<file>.py``;
no central table). In some cases one or two arguments are replaced by a
wild value (wrong types, 0, negatives, inf, nan, huge numbers, see
``WILD_VALUES``). A module that builds gets a forward input: a valid one
(batch 1-3, sizes up to the spec's ``max_side``, float32 or bfloat16, train
or eval mode) or a wrong one (3-D, 5-D, another channel count, an integer
dtype, an empty map). Every outcome must be one of:

* arguments and input valid: the output has the expected shape, the
  input's dtype and only finite values;
* an argument invalid: the constructor raises ValueError or TypeError whose
  message starts with ``'<Module>: <argument>=<value!r> is invalid'``,
  blaming the argument of the spec's first failing rule;
* the input wrong: forward raises ValueError or TypeError whose message
  starts with ``'<Module>: the input has ...'`` and names the expected and
  the received shape or dtype.

``pytest -s`` prints the outcomes per module.
"""
import copy
import importlib
import random
from collections import Counter

import pytest
import torch

from mmattn.registry import (BACKBONE, CONV_REPLACEMENT, MODELS, PLUGIN,
                             list_models)
from mmattn_test_utils import OMIT, WILD_VALUES, ValidationSpec

CASES = 300
#: Share of cases with wild values in place of one or two arguments.
WILD_SHARE = 0.4
#: Wrong inputs, drawn against 8 valid ones.
WRONG_INPUTS = ('3-D', '5-D', 'channels', 'dtype', 'empty')
KINDS = {'attention': 'test_attention', 'backbones': 'test_backbones'}


def specs_of(name: str) -> ValidationSpec:
    """The spec of a registered module, from the test file of its source
    file."""
    package, file = MODELS.get(name).__module__.rsplit('.', 1)
    folder = KINDS[package.rsplit('.', 1)[1]]
    tests = importlib.import_module(f'{folder}.test_{file}')
    return getattr(tests, 'VALIDATION_SPECS', {}).get(name)


MODULES = list_models(PLUGIN) + list_models(CONV_REPLACEMENT)
BACKBONES = list_models(BACKBONE)


@pytest.mark.parametrize('name', MODULES + BACKBONES)
def test_every_registered_module_declares_a_spec(name):
    assert isinstance(specs_of(name), ValidationSpec), (
        f'{name}: declare VALIDATION_SPECS = {{{name!r}: ValidationSpec('
        '...)}} in its test file')


def _draw_arguments(spec: ValidationSpec, rng: random.Random) -> dict:
    kwargs = {
        arg: rng.choice(values)
        for arg, values in spec.values.items()
        if arg in spec.required or rng.random() < spec.optional_share
    }
    if rng.random() < WILD_SHARE:
        count = min(len(spec.values), rng.choice((1, 1, 2)))
        for arg in rng.sample(sorted(spec.values), count):
            # A wild value also for an argument otherwise left out.
            kwargs[arg] = rng.choice(WILD_VALUES)
    return {arg: value for arg, value in kwargs.items() if value is not OMIT}


def _blame(spec: ValidationSpec, kwargs: dict):
    """(reporting module or None, argument) of the first failing rule."""
    for rule in spec.rules:
        if callable(rule):  # blames (argument, reporter) itself, or None
            blamed = rule(kwargs)
            if blamed is not None:
                return blamed[1], blamed[0]
            continue
        argument, valid, *reporter = rule
        if not valid(kwargs):
            return (reporter or [None])[0], argument
    return None


def _draw_input(spec: ValidationSpec, rng: random.Random, channels: int,
                training: bool):
    kind = rng.choice(('valid', ) * 8 + WRONG_INPUTS)
    batch = rng.randint(2 if training and spec.in_channels else 1, 3)
    height, width = (rng.randint(spec.min_side, spec.max_side)
                     for _ in range(2))
    shape = {
        'valid': (batch, channels, height, width),
        'dtype': (batch, channels, height, width),
        '3-D': (channels, height, width),
        '5-D': (batch, channels, 2, height, width),
        'channels': (batch, channels + rng.choice((-1, 1, channels)), height,
                     width),
        'empty': (batch, channels, 0, width),
    }[kind]
    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    if kind == 'dtype':
        return kind, torch.randint(0, 4, shape, generator=generator)
    return kind, torch.randn(shape, generator=generator).to(
        rng.choice(spec.dtypes))


def _expected_shapes(name, spec, kwargs, x):
    if spec.out_shapes is not None:
        return spec.out_shapes(kwargs, x.shape)
    if name in list_models(PLUGIN):
        return [tuple(x.shape)]
    stride = kwargs.get('stride', 1)
    batch, _, height, width = x.shape
    return [(batch, kwargs['out_channels'], (height - 1) // stride + 1,
             (width - 1) // stride + 1)]


def _check_case(name: str, spec: ValidationSpec, index: int,
                counts: Counter) -> None:
    rng = random.Random(f'{name}-{index}')
    kwargs = _draw_arguments(spec, rng)
    case = f'{name} case {index}: {kwargs}'
    blamed = _blame(spec, kwargs)

    def build():
        return MODELS.build(dict(type=name, **copy.deepcopy(kwargs)))

    if blamed is not None:
        reporter, argument = blamed
        with pytest.raises((ValueError, TypeError)) as info:
            build()
        prefix = f'{reporter or name}: {argument}='
        if argument in kwargs:
            prefix += f'{kwargs[argument]!r} is invalid'
        assert str(info.value).startswith(prefix), (
            f'{case}\nexpected a message starting with {prefix!r}, got '
            f'{type(info.value).__name__}: {info.value}')
        counts['invalid arguments'] += 1
        return

    module = build()
    training = rng.random() < 0.5
    module.train(training)
    channels = (spec.in_channels(kwargs) if spec.in_channels else
                kwargs['in_channels'])
    kind, x = _draw_input(spec, rng, channels, training)
    case += f', input {tuple(x.shape)} {x.dtype}, training={training}'
    if kind != 'valid':
        with pytest.raises((ValueError, TypeError)) as info:
            with torch.no_grad():
                module(x)
        message = str(info.value)
        what = str(x.dtype) if kind == 'dtype' else str(tuple(x.shape))
        assert message.startswith(f'{name}: the input has'), (case, message)
        assert what in message, (case, message)
        if kind != 'dtype':
            assert f'(B, {channels}, H, W)' in message, (case, message)
        counts['wrong inputs'] += 1
        return

    module.to(x.dtype)
    with torch.no_grad():
        out = module(x)
    outs = out if isinstance(out, tuple) else (out, )
    assert [tuple(o.shape) for o in outs] == \
        _expected_shapes(name, spec, kwargs, x), case
    assert all(o.dtype == x.dtype for o in outs), case
    assert all(torch.isfinite(o).all() for o in outs), case
    counts['valid'] += 1


@pytest.mark.parametrize('name', MODULES + BACKBONES)
def test_generated_cases(name):
    spec = specs_of(name)
    counts = Counter()
    for index in range(CASES):
        _check_case(name, spec, index, counts)
    print(f'\n{name}: {CASES} cases: {counts["valid"]} valid (built, output '
          f'checked), {counts["invalid arguments"]} invalid arguments, '
          f'{counts["wrong inputs"]} wrong inputs')
    assert sum(counts.values()) == CASES
    # Every kind of outcome is exercised, each substantially.
    assert min(counts[k] for k in ('valid', 'invalid arguments',
                                   'wrong inputs')) >= 10, counts


@pytest.mark.parametrize('cfg', [
    dict(type='SE', in_channels=16),
    dict(type='PSA', in_channels=16, out_channels=16, groups=(1, 1, 1, 1)),
])
def test_input_check_compiles_into_one_graph(cfg):
    """The check in forward is a few size comparisons that torch.compile
    turns into guards: fullgraph=True compiles (it raises on any graph
    break), with sizes dynamic, and gives the eager output."""
    module = MODELS.build(cfg).eval()
    compiled = torch.compile(module, fullgraph=True, backend='eager',
                             dynamic=True)
    for size in (5, 8):
        x = torch.randn(2, 16, size, size + 1)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), module(x))


@pytest.mark.parametrize('value', [0, -8, '16', None, 16.0])
@pytest.mark.parametrize(
    'name', ['SE', 'BAM', 'CBAM', 'DAPositionAttention', 'NonLocal'])
def test_in_channels_is_checked_first(name, value):
    # These used to blame reduction, or to fail inside torch.
    with pytest.raises((ValueError, TypeError)) as info:
        MODELS.build(dict(type=name, in_channels=value))
    assert str(info.value).startswith(
        f'{name}: in_channels={value!r} is invalid; it must be an integer '
        'in [1, 65536]')


def _build_valid(name):
    if name in list_models(CONV_REPLACEMENT):
        return MODELS.build(dict(type=name, in_channels=128,
                                 out_channels=128))
    return MODELS.build(dict(type=name, in_channels=128))


@pytest.mark.parametrize('name', MODULES)
@pytest.mark.parametrize('shape', [(2, 128, 3, 4, 5), (128, 4, 5),
                                   (2, 64, 4, 5), (2, 128, 0, 5)])
def test_wrong_input_shape_is_named(name, shape):
    # 5-D input to GatherExcite and DAChannelAttention used to be accepted,
    # pooling the wrong dimensions; most others failed inside torch.
    with pytest.raises(ValueError) as info:
        _build_valid(name)(torch.randn(shape))
    assert str(info.value) == (
        f'{name}: the input has shape {shape}; expected (B, 128, H, W) with '
        'H, W >= 1.')
