"""Helpers shared by test modules (fixtures live in conftest.py)."""
import copy
import math
import os.path as osp
import socket
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmattn.demo import SHAPE_CLASSES
from mmattn.models.utils import MAX_CHANNELS, MAX_KERNEL_SIZE

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tiny_detection_options(data_root: str, work_dir: str) -> dict:
    """--cfg-options turning an mmdet COCO config into one short CPU epoch
    (3 iterations) on the shapes dataset at 96x96, without downloading
    pretrained weights."""
    data_root = data_root.rstrip('/') + '/'
    options = {
        'work_dir': work_dir,
        'model.backbone.init_cfg': None,
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
        'val_evaluator.ann_file': data_root + 'annotations/val.json',
        'test_evaluator.ann_file': data_root + 'annotations/val.json',
    }
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        dataset = f'{loader}.dataset'
        options.update({
            f'{loader}.batch_size': 2,
            f'{loader}.num_workers': 0,
            f'{loader}.persistent_workers': False,
            f'{dataset}.data_root': data_root,
            f'{dataset}.ann_file': f'annotations/{split}.json',
            f'{dataset}.data_prefix.img': f'{split}/',
            f'{dataset}.metainfo.classes': SHAPE_CLASSES,
        })
    # Index of `Resize` in mmdet's COCO train / test pipelines.
    options['train_dataloader.dataset.pipeline.2.scale'] = (96, 96)
    for loader in ('val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.pipeline.1.scale'] = (96, 96)
    return options


# For mmdet's Faster R-CNN: the shapes classes, and fewer proposals and
# sampled RoIs than the COCO settings so that it trains in seconds on CPU;
# score_thr 0 makes an untrained model still emit boxes, so that CocoMetric
# computes its AP.
FASTER_RCNN_CPU_OPTIONS = {
    'model.roi_head.bbox_head.num_classes': len(SHAPE_CLASSES),
    'model.train_cfg.rpn_proposal.nms_pre': 200,
    'model.train_cfg.rpn_proposal.max_per_img': 100,
    'model.train_cfg.rcnn.sampler.num': 64,
    'model.test_cfg.rpn.nms_pre': 200,
    'model.test_cfg.rpn.max_per_img': 100,
    'model.test_cfg.rcnn.score_thr': 0.0,
}


def as_cli_options(options: dict) -> list:
    """Format options for `--cfg-options` (mmengine's DictAction syntax)."""

    def fmt(value):
        if isinstance(value, (tuple, list)):
            items = ','.join(fmt(v) for v in value)
            return f'({items})' if isinstance(value, tuple) else f'[{items}]'
        return str(value)

    return [f'{key}={fmt(value)}' for key, value in options.items()]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a distributed launch)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def randomise(module: nn.Module, std: float = 1.0, seed: int = 0) -> nn.Module:
    """Random parameters (normal with ``std``) and BatchNorm running
    statistics (means normal with ``std``, variances uniform in [0.5, 2]).

    Default initialisations (BN weight 1 and bias 0, zero-initialised gates,
    running mean 0 and variance 1) make many wrong formulas, orders or
    channel mappings give the right output; random ones do not.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
        for norm in module.modules():
            if isinstance(norm, _BatchNorm) and norm.running_mean is not None:
                norm.running_mean.copy_(
                    torch.randn(norm.running_mean.shape, generator=generator)
                    * std)
                norm.running_var.uniform_(0.5, 2.0, generator=generator)
    return module


#: Layers a from-scratch backbone initialises (its init_cfg), set here to a
#: value no attention module would choose.
PARENT_INIT_VALUE = 3.0


class _Parent(BaseModule):

    def __init__(self, child: nn.Module) -> None:
        super().__init__(init_cfg=[
            dict(type='Constant', val=PARENT_INIT_VALUE,
                 layer=['Conv1d', 'Conv2d', 'Linear', '_BatchNorm',
                        'GroupNorm', 'LayerNorm', 'InstanceNorm2d'])
        ])
        self.child = child


def init_under_parent(module: nn.Module, trained: bool = False) -> nn.Module:
    """Run ``init_weights()`` of a parent whose init_cfg overwrites every
    conv, linear and norm layer below it with :data:`PARENT_INIT_VALUE`
    (as ResNet's from-scratch init does), ``module`` its child; with
    ``trained``, set every parameter to 0.5 first, as if loaded or
    trained. Returns ``module``."""
    if trained:
        with torch.no_grad():
            for param in module.parameters():
                param.fill_(0.5)
    _Parent(module).init_weights()
    return module


# The generated validation suite (tests/test_reliability/test_properties.py)
# draws constructor arguments and inputs for every registered module and
# backbone from the ``VALIDATION_SPEC`` declared in the module's own test
# file; what follows is what those declarations use.


class _Omit:

    def __repr__(self) -> str:
        return 'OMIT'


#: In :attr:`ValidationSpec.values`: leave the argument out (its default).
OMIT = _Omit()

#: What careless configs hold: wrong types, zero, negatives, non-finite and
#: huge numbers. The generator puts them in place of any argument.
WILD_VALUES = ('16', 'abc', '', None, 16.0, 0.5, -2.5, True, False, 0, -1,
               -16, math.inf, -math.inf, math.nan, 10**9, 2**40, 10**18,
               [8], (), {})


@dataclass
class ValidationSpec:
    """How the generated validation suite exercises one module or backbone.

    Attributes:
        values (dict): Per constructor argument, the values to draw from:
            valid ones and invalid ones only the module can judge (a
            reduction above the channels); ``OMIT`` leaves the argument out.
            The generator also puts :data:`WILD_VALUES` in their place.
        rules (list): ``(argument, valid)`` in the order in which the module
            checks its arguments; ``valid(kwargs)`` says whether the
            argument is valid given the (given) arguments. The first rule
            that fails names the argument the error must blame:
            ``'<Module>: <argument>=<value!r> is invalid; ...'``. A third
            entry names another reporting module (a backbone's block). A
            rule may also be a function of the kwargs returning None or
            ``(argument, reporting module)``, for checks whose blame
            depends on the arguments.
        min_side, max_side (int): Range of the heights and widths of the
            generated inputs.
        dtypes (tuple): Dtypes of the generated inputs (the module is
            converted to it).
        in_channels (callable): A backbone's input channels from its
            kwargs; None for attention modules (their ``in_channels``).
        out_shapes (callable): A backbone's output shapes from its kwargs
            and the input shape; None for attention modules (the input's for
            a plugin, a 3×3 conv's with padding 1 for a conv replacement).
        required (tuple): Arguments given in every case; each other one is
            given with probability ``optional_share`` (left to its default
            otherwise).
        optional_share (float): See ``required``.
    """
    values: Dict[str, Sequence]
    rules: List
    min_side: int = 1
    max_side: int = 12
    dtypes: Tuple[torch.dtype, ...] = (torch.float32, torch.float32,
                                       torch.bfloat16)
    in_channels: Optional[Callable[[dict], int]] = None
    out_shapes: Optional[Callable[[dict, tuple], List[tuple]]] = None
    required: Tuple[str, ...] = ()
    optional_share: float = 1.0


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value, maximum: Optional[int] = None) -> bool:
    return is_int(value) and value >= 1 and (maximum is None
                                             or value <= maximum)


def is_channels(value) -> bool:
    return is_positive_int(value, MAX_CHANNELS)


def is_odd_kernel(value) -> bool:
    return is_positive_int(value, MAX_KERNEL_SIZE) and value % 2 == 1


def is_bool(value) -> bool:
    return isinstance(value, bool)


def is_number_in(value, low: float, high: float) -> bool:
    """A real number (not a bool) in (low, high]."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and low < value <= high)


def is_one_of(value, choices: Sequence) -> bool:
    """One of ``choices``, of its type (not 50.0 for 50, not True for 1)."""
    return any(
        isinstance(value, type(choice)) and is_bool(value) == is_bool(choice)
        and value == choice for choice in choices)


def is_cfg(value, optional: bool = False) -> bool:
    return optional and value is None or isinstance(value, dict) and \
        'type' in value


def argument_rule(argument: str, valid: Callable[..., bool],
                  default=None) -> tuple:
    """A :attr:`ValidationSpec.rules` entry that judges one argument alone:
    ``valid(value)``, with ``default`` for an omitted argument."""
    return argument, lambda kwargs: valid(kwargs.get(argument, default))


# AttnResNet's arguments, for the specs of AttnResNet and its subclasses.
RESNET_DEFAULTS = dict(
    in_channels=3, stem_channels=None, base_channels=64, num_stages=4,
    style='pytorch', deep_stem=False, avg_down=False, frozen_stages=-1,
    conv_cfg=None, norm_cfg=dict(type='BN'), norm_eval=True, dcn=None,
    plugins=None, with_cp=False, zero_init_residual=True, pretrained=None,
    conv2_cfg=None, conv2_norm=True, width_multiplier=1,
    stage_with_conv2=(True, ) * 4)


def resnet_arg(kwargs: dict, name: str):
    """An AttnResNet argument: given, or its default (those of strides,
    dilations, out_indices and stage_with_dcn follow num_stages)."""
    if name in kwargs:
        return kwargs[name]
    if name in RESNET_DEFAULTS:
        return RESNET_DEFAULTS[name]
    stages = kwargs.get('num_stages', 4)
    return dict(strides=(1, 2, 2, 2)[:stages],
                dilations=(1, 1, 1, 1)[:stages],
                out_indices=tuple(range(stages)),
                stage_with_dcn=(False, ) * stages)[name]


def _flags(value, length: int, exact: bool) -> bool:
    return isinstance(value, (list, tuple)) and all(
        is_bool(v) for v in value) and len(value) >= length and (
            not exact or len(value) == length)


def resnet_out_indices(kwargs: dict) -> Optional[Tuple[int, ...]]:
    """The stages out_indices selects, or None when it is invalid."""
    stages = resnet_arg(kwargs, 'num_stages')
    value = resnet_arg(kwargs, 'out_indices')
    indices = (value, ) if is_int(value) else value
    if not isinstance(indices, (list, tuple)) or not indices or not all(
            is_int(i) and -stages <= i < stages for i in indices):
        return None
    indices = tuple(i % stages for i in indices)
    if any(b <= a for a, b in zip(indices, indices[1:])):
        return None
    return indices


def resnet_rules(bottleneck_blocks: bool,
                 conv2_replaced: Callable[[dict], bool] = lambda kw: False
                 ) -> List:
    """The rules of AttnResNet's own checks, in its order; blocks are
    Bottlenecks when ``bottleneck_blocks`` (else depth decides);
    ``conv2_replaced(kwargs)``: a subclass replaces every conv2 itself."""

    def arg(name):
        return lambda kw: resnet_arg(kw, name)

    def stages(kw):
        return resnet_arg(kw, 'num_stages')

    def bottleneck(kw):
        return bottleneck_blocks or kw['depth'] >= 50

    def widest(kw):
        return resnet_arg(kw, 'base_channels') * 2**(stages(kw) - 1)

    def int_sequence(name):
        return (name, lambda kw: isinstance(arg(name)(kw), (list, tuple))
                and len(arg(name)(kw)) == stages(kw)
                and all(is_positive_int(v, MAX_KERNEL_SIZE)
                        for v in arg(name)(kw)))

    def plugin(kw):
        return resnet_arg(kw, 'plugins')[0]

    def dcn_stages(kw):
        if resnet_arg(kw, 'dcn') is None:
            return []
        return [i for i in range(stages(kw))
                if resnet_arg(kw, 'stage_with_dcn')[i]]

    def block_checks(kw):
        """The first failing check of the blocks, built stage by stage."""
        conv2_cfg = resnet_arg(kw, 'conv2_cfg')
        for stage in range(stages(kw)):
            with_conv2 = resnet_arg(kw, 'stage_with_conv2')[stage]
            if bottleneck(kw) and with_conv2 and not resnet_arg(
                    kw, 'conv2_norm') and (conv2_cfg is None
                                           ) and not conv2_replaced(kw):
                return 'conv2_norm', 'AttnBottleneck'
        return None

    return [
        argument_rule('in_channels', is_channels, 3),
        ('stem_channels', lambda kw: resnet_arg(kw, 'stem_channels') is None
         or is_channels(kw['stem_channels'])),
        argument_rule('base_channels', is_channels, 64),
        argument_rule('num_stages', lambda n: is_positive_int(n, 4), 4),
        int_sequence('strides'),
        int_sequence('dilations'),
        ('out_indices', lambda kw: resnet_out_indices(kw) is not None),
        argument_rule('style', lambda s: is_one_of(s, ('pytorch', 'caffe')),
                      'pytorch'),
        argument_rule('deep_stem', is_bool, False),
        argument_rule('avg_down', is_bool, False),
        ('frozen_stages', lambda kw: is_int(arg('frozen_stages')(kw)) and
         -1 <= kw.get('frozen_stages', -1) <= stages(kw)),
        argument_rule('conv_cfg', lambda c: is_cfg(c, optional=True)),
        argument_rule('norm_cfg', is_cfg, dict(type='BN')),
        argument_rule('norm_eval', is_bool, True),
        argument_rule('dcn', lambda c: is_cfg(c, optional=True)),
        ('stage_with_dcn', lambda kw: _flags(
            arg('stage_with_dcn')(kw), stages(kw),
            exact=resnet_arg(kw, 'dcn') is not None)),
        ('plugins', lambda kw: arg('plugins')(kw) is None or (
            isinstance(kw['plugins'], (list, tuple)) and all(
                isinstance(p, dict) and 'cfg' in p and 'position' in p
                for p in kw['plugins']))),
        ('plugins[0] cfg', lambda kw: not arg('plugins')(kw) or (
            is_cfg(plugin(kw)['cfg'])
            and 'in_channels' not in plugin(kw)['cfg'])),
        ('plugins[0] stages', lambda kw: not arg('plugins')(kw) or plugin(
            kw).get('stages') is None or _flags(plugin(kw)['stages'],
                                                stages(kw), exact=True)),
        argument_rule('with_cp', is_bool, False),
        argument_rule('zero_init_residual', is_bool, True),
        argument_rule('pretrained', lambda p: p is None or isinstance(p, str)),
        argument_rule('conv2_cfg', lambda c: is_cfg(c, optional=True)),
        ('conv2_cfg', lambda kw: arg('conv2_cfg')(kw) is None or not any(
            key in kw['conv2_cfg']
            for key in ('in_channels', 'out_channels', 'stride'))),
        ('stage_with_conv2', lambda kw: _flags(arg('stage_with_conv2')(kw),
                                               stages(kw), exact=False)),
        argument_rule('conv2_norm', is_bool, True),
        argument_rule('width_multiplier',
                      lambda w: is_number_in(w, 0, MAX_CHANNELS), 1),
        ('conv2_cfg', lambda kw: bottleneck(kw) or arg('conv2_cfg')(kw) is
         None),
        ('conv2_norm', lambda kw: bottleneck(kw) or arg('conv2_norm')(kw)),
        ('width_multiplier', lambda kw: bottleneck(kw) or arg(
            'width_multiplier')(kw) == 1),
        ('stem_channels', lambda kw: not arg('deep_stem')(kw) or (
            arg('stem_channels')(kw) or arg('base_channels')(kw)) >= 2),
        ('base_channels', lambda kw: widest(kw) * (
            4 if bottleneck(kw) else 1) <= MAX_CHANNELS),
        ('width_multiplier', lambda kw: not bottleneck(kw) or (
            int(arg('base_channels')(kw) * arg('width_multiplier')(kw)) >= 1
            and int(widest(kw) * arg('width_multiplier')(kw)) <=
            MAX_CHANNELS)),
        ('dcn', lambda kw: not dcn_stages(kw)
         or arg('conv_cfg')(kw) is None),
        ('dcn', lambda kw: not dcn_stages(kw) or bottleneck(kw)),
        ('dcn', lambda kw: arg('conv2_cfg')(kw) is None or not any(
            arg('stage_with_conv2')(kw)[i] for i in dcn_stages(kw))),
        block_checks,
    ]


def resnet_out_shapes(kwargs: dict, input_shape: tuple,
                      expansion: int) -> List[tuple]:
    """Output shapes of an AttnResNet: the stem and max pool halve the
    size twice, each stage divides it by its stride (rounding up)."""
    batch, _, height, width = input_shape
    for stride in (2, 2):
        height, width = (height - 1) // stride + 1, (width - 1) // stride + 1
    shapes = []
    base = resnet_arg(kwargs, 'base_channels')
    for stage, stride in enumerate(resnet_arg(kwargs, 'strides')):
        height, width = (height - 1) // stride + 1, (width - 1) // stride + 1
        shapes.append((batch, base * 2**stage * expansion, height, width))
    return [shapes[i] for i in resnet_out_indices(kwargs)]


#: Values of AttnResNet's arguments for the specs of AttnResNet and its
#: subclasses (depth and base_channels are the specs' own: they set the
#: cost of a case).
RESNET_VALUES = dict(
    in_channels=[1, 3, 4],
    stem_channels=[None, 8, 1],
    num_stages=[1, 2, 3, 4, 5],
    strides=[(1, 2, 2, 2), (2, 1, 1, 1), (1, 2), (1, 0, 2, 2)],
    dilations=[(1, 1, 2, 4), (1, 1)],
    out_indices=[(0, 1, 2, 3), (3, ), (-1, ), 1, (0, 2), (-1, 0, 1, 2),
                 (1, 1), (4, ), ()],
    style=['pytorch', 'caffe', 'tf'],
    deep_stem=[False, True],
    avg_down=[False, True],
    frozen_stages=[-1, 0, 1, 4, 5, -2],
    norm_cfg=[dict(type='BN'), dict(type='GN', num_groups=1)],
    norm_eval=[True, False],
    with_cp=[False, True],
    zero_init_residual=[True, False],
)


def psa_rule(name: str, groups: Callable[[dict], Sequence[int]],
             width_multiplier: Callable[[dict], float]) -> Callable:
    """The first failing check of the PSA (or DMSA) built as conv2 of the
    first bottleneck (the narrowest): its group counts must divide its
    width and the width of each of its 4 branches."""

    def rule(kw):
        width = int(resnet_arg(kw, 'base_channels') * width_multiplier(kw))
        if width % 4:
            return 'out_channels', name
        if any(width % g for g in groups(kw)):
            return 'in_channels', name
        if any(width // 4 % g for g in groups(kw)):
            return 'out_channels', name
        return None

    return rule


def resnet_spec(values: dict, rules: list, bottleneck_blocks: bool = False,
                **overrides) -> ValidationSpec:
    """The spec of AttnResNet or a subclass: ``values`` added to
    :data:`RESNET_VALUES`; depth and base_channels in every case and each
    other argument in few (a case with many of them set is invalid almost
    always); float32 inputs of 8-40 pixels; the outputs' shapes of a
    ResNet."""
    settings = dict(
        required=('depth', 'base_channels'),
        optional_share=0.12,
        min_side=8,
        max_side=40,
        dtypes=(torch.float32, ),
        in_channels=lambda kw: kw.get('in_channels', 3),
        out_shapes=lambda kw, shape: resnet_out_shapes(
            kw, shape, 4 if bottleneck_blocks or kw['depth'] >= 50 else 1))
    settings.update(overrides)
    return ValidationSpec(values=dict(RESNET_VALUES, **values), rules=rules,
                          **settings)


def half_group_rules() -> List:
    """Rules of modules splitting C channels into ``groups`` groups of two
    halves (ShuffleAttention, DMSAUnit): 2 * groups must divide C."""
    return [
        argument_rule('in_channels', is_channels),
        argument_rule('groups', lambda g: is_positive_int(g, MAX_CHANNELS)),
        ('in_channels',
         lambda kw: kw['in_channels'] % (2 * kw['groups']) == 0),
    ]


def assert_same_function(module: nn.Module, reference: Callable, x,
                         rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """``module(x)`` computes ``reference(module, x)``, a straightforward
    computation from the module's parameters: in value and in the gradients
    it gives ``x`` and every parameter, for a random upstream gradient.

    The reference runs in float64 on a copy of the module: the exact
    function, against which the float32 module may differ by rounding only
    (a float32 reference would add its own). The absolute tolerance scales
    with each tensor's largest magnitude.
    """
    exact_module = copy.deepcopy(module).double()
    x = x.detach().requires_grad_()
    x_exact = x.detach().double().requires_grad_()
    out = module(x)
    expected = reference(exact_module, x_exact)

    def close(got, want, what):
        torch.testing.assert_close(
            got.double(), want, rtol=rtol,
            atol=atol * max(1.0, float(want.abs().max())), msg=what)

    close(out, expected, 'output')
    grad = torch.randn_like(out)
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    exact_params = dict(exact_module.named_parameters())
    got = torch.autograd.grad(out, [x] + [p for _, p in named], grad,
                              allow_unused=True)
    want = torch.autograd.grad(
        expected, [x_exact] + [exact_params[n] for n, _ in named],
        grad.double(), allow_unused=True)
    for name, a, b in zip(['input'] + [n for n, _ in named], got, want):
        if a is None or b is None:
            assert a is None and b is None, f'gradient of {name}'
            continue
        close(a, b, f'gradient of {name}')
