"""ResNet whose Basic and Bottleneck blocks accept attention anywhere.

mmdet's ResNet only takes plugins in ``Bottleneck`` (``BasicBlock`` asserts
there are none) and cannot replace the 3×3 conv; mmpretrain's ResNet takes
no plugins at all. :class:`AttnResNet` subclasses mmdet's ResNet, so every
detection option (``frozen_stages``, ``norm_eval``, ``with_cp``, ``style``,
``init_cfg`` ...) behaves the same, and adds:

* plugins in ``BasicBlock`` (``after_conv1``, ``after_conv2``) as well as in
  ``Bottleneck`` (``after_conv1/2/3``), always before the residual add;
* ``conv2_cfg``: a conv-replacement module (PSA, SK, DMSA) instead of the
  bottleneck's 3×3 conv, in the stages chosen by ``stage_with_conv2``, with
  or without the block's bn2 after it (``conv2_norm``);
* ``width_multiplier``: the bottleneck's inner width relative to ``planes``
  (EPSANet-Large's wide bottleneck);
* connected attention (DCA, EMCA): modules that read and write an
  :class:`~mmattn.models.connect.AttentionState` threaded through every
  block. Subclasses say what each block carries
  (:meth:`AttnResNet.connected_attention`); ``make_res_layer`` hands it to
  the block when the block is built.
"""
import inspect
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from mmcv.cnn import build_conv_layer, build_norm_layer, build_plugin_layer
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_with_prefix)
from torch import Tensor, nn
from torch.utils import checkpoint

from mmattn.models.connect import AttentionState, ConnectedAttention
from mmattn.models.utils import (MAX_CHANNELS, MAX_KERNEL_SIZE, check_bool,
                                 check_cfg, check_cfg_arguments,
                                 check_cfg_leaves_out,
                                 check_channels, check_choice,
                                 check_feature_map, check_flags,
                                 check_int_sequence, check_positive_int,
                                 check_real)
from mmattn.registry import BACKBONE, MODELS, register


def check_pretrained_keys(module: nn.Module, init_cfg: dict) -> None:
    """Raise ValueError when the checkpoint of a ``Pretrained`` init_cfg
    holds no tensor that fits ``module`` (no key with a name and shape of
    the module's state dict).

    mmengine loads such checkpoints with ``strict=False``: mismatching keys
    are only a logged warning, and a checkpoint that matches nothing (a
    detector's checkpoint, whose backbone keys start with ``backbone.``,
    given without ``prefix='backbone.'``) leaves the model at its random
    init without an error. Partial matches stay warnings: an ImageNet
    ResNet loaded into an attention ResNet lacks the attention weights by
    design.
    """
    source = init_cfg['checkpoint']
    map_location = init_cfg.get('map_location', 'cpu')
    prefix = init_cfg.get('prefix')
    if prefix is None:
        loaded = _load_checkpoint(source, map_location=map_location)
        loaded = loaded.get('state_dict', loaded)
        state = {re.sub(r'^module\.', '', key): value
                 for key, value in loaded.items()}
    else:
        state = _load_checkpoint_with_prefix(prefix, source, map_location)
    own = module.state_dict()
    # BN's num_batches_tracked is a scalar in every model: not evidence.
    if any(key in own and getattr(value, 'shape', None) == own[key].shape
           and not key.endswith('num_batches_tracked')
           for key, value in state.items()):
        return
    unexpected = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    if any(key.startswith('backbone.') for key in state):
        hint = ("its keys start with 'backbone.' (a detector's or "
                "classifier's checkpoint): add prefix='backbone.' to the "
                'init_cfg')
    elif set(state) & set(own):
        hint = ('the names match but no shape does: check depth, widths '
                'and attention settings against the checkpoint')
    else:
        hint = 'is it a checkpoint of this kind of model?'
    raise ValueError(
        f'{type(module).__name__}: init_cfg checkpoint {source!r} has no '
        f'tensor that fits the model ({len(state)} tensors, none with a key '
        f'and shape among the model\'s {len(own)}), so nothing would be '
        f'loaded. Unexpected keys (first 5): {unexpected[:5]}; missing keys '
        f'(first 5): {missing[:5]}. Hint: {hint}.')


def checked_out_indices(module: str, value: Union[int, Sequence[int]],
                        num_stages: int) -> Tuple[int, ...]:
    """``out_indices`` as stage indices in [0, num_stages), negative ones
    counted from the last stage (as mmpretrain's ResNet does); raise
    TypeError/ValueError naming ``module`` unless they are integers in
    [-num_stages, num_stages) that give each stage at most once, in
    increasing order (the order of the outputs)."""
    rule = (f'it must be a stage index or a list or tuple of them, in '
            f'[-{num_stages}, {num_stages - 1}] (negative ones count from the '
            'last stage), each stage once and in increasing order, the order '
            'of the outputs')
    indices = (value, ) if isinstance(value, int) else value
    if not isinstance(indices, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise TypeError(f'{module}: out_indices={value!r} is invalid; {rule}.')
    stages = tuple(i % num_stages if -num_stages <= i < num_stages else None
                   for i in indices)
    if not stages or None in stages or any(
            later <= earlier for earlier, later in zip(stages, stages[1:])):
        raise ValueError(
            f'{module}: out_indices={value!r} is invalid; {rule}.')
    return stages


def check_plugins(module: str, plugins, num_stages: int) -> None:
    """Raise TypeError/ValueError naming ``module`` unless ``plugins`` is a
    list of ``dict(cfg=..., position=..., stages=...)`` (stages optional,
    one flag per stage) whose cfg leaves ``in_channels`` to the block."""
    if not isinstance(plugins, (list, tuple)) or not all(
            isinstance(p, Mapping) and 'cfg' in p and 'position' in p
            for p in plugins):
        raise TypeError(
            f'{module}: plugins={plugins!r} is invalid; it must be a list '
            'of dict(cfg=dict(type=...), position=..., stages=...).')
    for index, plugin in enumerate(plugins):
        check_cfg(module, f'plugins[{index}] cfg', plugin['cfg'])
        check_cfg_leaves_out(module, f'plugins[{index}] cfg', plugin['cfg'],
                             ('in_channels', ))
        if plugin.get('stages') is not None:
            check_flags(module, f'plugins[{index}] stages', plugin['stages'],
                        num_stages, f'stage (num_stages={num_stages})')


@dataclass(frozen=True)
class BlockSite:
    """Where a block sits in its backbone: what its connected attention is
    built for.

    Attributes:
        stage (int): Stage index, from 0.
        index (int): Block index within the stage, from 0.
        width (int): Channels of the block's 3×3 conv (conv2).
        channels (int): Channels of the block's output.
        conv2_stride (int): Stride of the block's conv2.
    """
    stage: int
    index: int
    width: int
    channels: int
    conv2_stride: int


class AttnBlockMixin:
    """What Basic and Bottleneck attention blocks share: plugins by
    position, and connected attention threading the attention state.

    A block runs its connected attention at the positions the modules
    declare (:class:`~mmattn.models.connect.ConnectedAttention`): ``input``
    as ``connected_input``, ``conv2`` as the bottleneck's ``conv2`` and
    ``residual`` as ``connected``.
    """

    positions: Sequence[str] = ()
    connected_positions: Sequence[str] = ('input', 'residual')

    def build_position_plugins(self, plugins: Optional[List[dict]],
                               channels: Dict[str, int]) -> None:
        self.position_plugins = {position: [] for position in self.positions}
        for plugin in plugins or []:
            position = plugin.get('position')
            if position not in self.positions:
                raise ValueError(
                    f'{type(self).__name__}: plugin position {position!r} '
                    f'does not exist; positions of this block are '
                    f'{self.positions}')
            cfg = dict(plugin['cfg'])
            name, layer = build_plugin_layer(
                cfg, in_channels=channels[position],
                postfix=cfg.pop('postfix', ''))
            if hasattr(self, name):
                raise ValueError(
                    f'{type(self).__name__}: two plugins are named {name!r}; '
                    "give one a distinct 'postfix' in its cfg")
            self.add_module(name, layer)
            self.position_plugins[position].append(name)
        # mmdet's Bottleneck attributes, which mmdet code and users read.
        self.with_plugins = plugins is not None
        for position, names in self.position_plugins.items():
            setattr(self, f'{position}_plugin_names', names)

    def build_attention(self, plugins: Optional[List[dict]],
                        channels: Dict[str, int],
                        connected: Sequence[ConnectedAttention]) -> None:
        """Build the plugins (``channels``: the input channels of each
        plugin position) and place the connected attention."""
        self.build_position_plugins(plugins, channels)
        self.attach_connected(connected)

    def attach_connected(self,
                         connected: Sequence[ConnectedAttention]) -> None:
        """Place each connected attention module at its position."""
        self.connected_input = None
        self.connected = None
        taken = set()
        for module in connected:
            position = module.position
            if position not in self.connected_positions or position in taken:
                raise ValueError(
                    f'{type(self).__name__}: connected attention '
                    f'{type(module).__name__} at position {position!r} is '
                    f'invalid; each of {tuple(self.connected_positions)} '
                    'takes at most one module')
            taken.add(position)
            name = dict(input='connected_input', conv2='conv2',
                        residual='connected')[position]
            setattr(self, name, module)

    def apply_plugins(self, x: Tensor, position: str) -> Tensor:
        for name in self.position_plugins[position]:
            x = getattr(self, name)(x)
        return x

    def conv1_branch(self, x: Tensor) -> Tensor:
        """conv1, its norm and ReLU, and the plugins after them."""
        return self.apply_plugins(
            self.relu(self.norm1(self.conv1(x))), 'after_conv1')

    def residual_branch(
            self, x: Tensor,
            state: AttentionState) -> Tuple[Tensor, AttentionState]:
        """The block's conv path with its plugins, before the residual add;
        a connected conv2 (DCA around SK) may update ``state``."""
        raise NotImplementedError

    def forward_with_state(
            self, x: Tensor,
            state: AttentionState) -> Tuple[Tensor, AttentionState]:
        """Forward, threading the state of connected attention (DCA, EMCA)
        through the block's ``connected_input``, conv2 and ``connected``."""
        if self.connected_input is not None:
            x, state = self.connected_input(x, state)

        def inner_forward(x, state):
            out, state = self.residual_branch(x, state)
            if self.connected is not None:
                out, state = self.connected(out, state)
            identity = x if self.downsample is None else self.downsample(x)
            return out + identity, state

        if self.with_cp and x.requires_grad:
            out, state = checkpoint.checkpoint(
                inner_forward, x, state, use_reentrant=False)
        else:
            out, state = inner_forward(x, state)
        return self.relu(out), state

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_state(x, AttentionState())[0]


class AttnBasicBlock(AttnBlockMixin, BasicBlock):
    """mmdet's BasicBlock with plugins after conv1 (after bn1 + ReLU) and
    after conv2 (after bn2, before the residual add), and optional connected
    attention on its input and residual branch."""

    positions = ('after_conv1', 'after_conv2')
    residual_norm = 'norm2'

    def __init__(self, inplanes: int, planes: int, *args,
                 plugins: Optional[List[dict]] = None,
                 connected: Sequence[ConnectedAttention] = (),
                 **kwargs) -> None:
        super().__init__(inplanes, planes, *args, **kwargs)
        self.build_attention(plugins,
                             dict(after_conv1=planes, after_conv2=planes),
                             connected)

    def residual_branch(
            self, x: Tensor,
            state: AttentionState) -> Tuple[Tensor, AttentionState]:
        out = self.norm2(self.conv2(self.conv1_branch(x)))
        return self.apply_plugins(out, 'after_conv2'), state


class AttnBottleneck(AttnBlockMixin, Bottleneck):
    """mmdet's Bottleneck with an optional conv2 replacement and inner width.

    ``conv2_cfg`` is built with ``in_channels = out_channels = width`` and the
    block's conv2 stride; the block's bn2 + ReLU follow it, or the ReLU only
    with ``conv2_norm=False`` (bn2 becomes an identity: SKNet's unit, whose
    selected features, already normalised per branch, go straight into
    conv3). A connected attention at position ``conv2`` (DCA around SK)
    replaces conv2 the same way. Plugins go after conv1 / conv2 (after their
    norm + ReLU) or after conv3 (after bn3, before the residual add), as in
    mmdet.
    """

    positions = ('after_conv1', 'after_conv2', 'after_conv3')
    connected_positions = ('input', 'conv2', 'residual')
    residual_norm = 'norm3'

    def __init__(self, inplanes: int, planes: int, *args,
                 plugins: Optional[List[dict]] = None,
                 conv2_cfg: Optional[dict] = None,
                 conv2_norm: bool = True,
                 width_multiplier: float = 1,
                 connected: Sequence[ConnectedAttention] = (),
                 **kwargs) -> None:
        replaced = conv2_cfg is not None or any(
            module.position == 'conv2' for module in connected)
        if not (conv2_norm or replaced):
            raise ValueError(
                f'AttnBottleneck: conv2_norm={conv2_norm!r} is invalid '
                'without conv2_cfg; only a conv replacement may drop bn2')
        # Whether mmdet builds conv2 deformable (it pops the flag).
        dcn = kwargs.get('dcn')
        deformable = dcn is not None and not dcn.get('fallback_on_stride',
                                                     False)
        super().__init__(inplanes, planes, *args, **kwargs)
        width = int(planes * width_multiplier)
        if width < 1:
            raise ValueError(
                f'AttnBottleneck: width_multiplier={width_multiplier!r} is '
                f'invalid; planes * width_multiplier must be >= 1 '
                f'(planes={planes})')
        if width != planes:
            self._set_width(width, deformable)
        if conv2_cfg is not None:
            self.conv2 = MODELS.build(
                conv2_cfg,
                default_args=dict(in_channels=width, out_channels=width,
                                  stride=self.conv2_stride))
        if not conv2_norm:
            self.add_module(self.norm2_name, nn.Identity())
        self.build_attention(
            plugins,
            dict(after_conv1=width, after_conv2=width,
                 after_conv3=planes * self.expansion), connected)

    def residual_branch(
            self, x: Tensor,
            state: AttentionState) -> Tuple[Tensor, AttentionState]:
        out = self.conv1_branch(x)
        if isinstance(self.conv2, ConnectedAttention):
            out, state = self.conv2(out, state)
        else:
            out = self.conv2(out)
        out = self.relu(self.norm2(out))
        out = self.apply_plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self.apply_plugins(out, 'after_conv3'), state

    def _set_width(self, width: int, deformable: bool) -> None:
        """Rebuild conv1-conv3 and bn1-bn2 for an inner width != planes,
        conv2 deformable when mmdet built it so."""
        self.conv1 = build_conv_layer(self.conv_cfg, self.inplanes, width, 1,
                                      stride=self.conv1_stride, bias=False)
        self.add_module(self.norm1_name,
                        build_norm_layer(self.norm_cfg, width, postfix=1)[1])
        self.conv2 = build_conv_layer(
            self.dcn if deformable else self.conv_cfg, width, width, 3,
            stride=self.conv2_stride, padding=self.dilation,
            dilation=self.dilation, bias=False)
        self.add_module(self.norm2_name,
                        build_norm_layer(self.norm_cfg, width, postfix=2)[1])
        self.conv3 = build_conv_layer(self.conv_cfg, width,
                                      self.planes * self.expansion, 1,
                                      bias=False)


@register(BACKBONE)
class AttnResNet(ResNet):
    """ResNet-18/34/50/101/152 accepting attention in every kind of block.

    Takes every argument of mmdet's ``ResNet`` (``plugins`` now also for
    depth 18/34) plus:

    Args:
        conv2_cfg (dict, optional): Conv-replacement module for the 3×3 conv
            of each bottleneck, e.g. ``dict(type='PSA')``. Default: None.
        stage_with_conv2 (Sequence[bool]): Stages whose blocks use
            ``conv2_cfg``. Default: all.
        conv2_norm (bool): Keep the block's bn2 after ``conv2_cfg``; False
            drops it (SKNet-style units). Default: True.
        width_multiplier (float): Bottleneck inner width / planes.
            Default: 1.

    ``frozen_stages`` freezes attention modules of the frozen stages with the
    rest of the stage. ``norm_eval=True`` (mmdet's default) also keeps BN
    layers *inside* attention modules in eval mode; set ``norm_eval=False``
    (or use SyncBN) when such modules are trained.
    """

    arch_settings = {
        18: (AttnBasicBlock, (2, 2, 2, 2)),
        34: (AttnBasicBlock, (3, 4, 6, 3)),
        50: (AttnBottleneck, (3, 4, 6, 3)),
        101: (AttnBottleneck, (3, 4, 23, 3)),
        152: (AttnBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 *args,
                 conv2_cfg: Optional[dict] = None,
                 stage_with_conv2: Sequence[bool] = (True, True, True, True),
                 conv2_norm: bool = True,
                 width_multiplier: float = 1,
                 num_stages: int = 4,
                 frozen_stages: int = -1,
                 zero_init_residual: bool = True,
                 init_cfg=None,
                 pretrained: Optional[str] = None,
                 **kwargs) -> None:
        resnet_args = self._checked_arguments(
            depth, args,
            dict(kwargs, num_stages=num_stages, frozen_stages=frozen_stages,
                 zero_init_residual=zero_init_residual, init_cfg=init_cfg,
                 pretrained=pretrained),
            dict(conv2_cfg=conv2_cfg, stage_with_conv2=stage_with_conv2,
                 conv2_norm=conv2_norm, width_multiplier=width_multiplier))
        self.in_channels = resnet_args['in_channels']
        self._block_extras = dict(conv2_cfg=conv2_cfg,
                                  stage_with_conv2=tuple(stage_with_conv2),
                                  conv2_norm=conv2_norm,
                                  width_multiplier=width_multiplier)
        self._stages_built = 0
        super().__init__(**resnet_args)
        if zero_init_residual and init_cfg is None and pretrained is None:
            # mmdet decides this with `block is Bottleneck`, which our
            # subclasses fail: set the residual norm's zero init here.
            for layer_name in self.res_layers:
                for block in getattr(self, layer_name):
                    block.init_cfg = dict(
                        type='Constant', val=0,
                        override=dict(name=block.residual_norm))

    def _checked_arguments(self, depth: int, args: tuple, kwargs: dict,
                           extras: dict) -> dict:
        """mmdet ResNet's arguments, bound, checked (mmdet asserts without a
        message, fails deep inside or takes a wrong value silently) and with
        the defaults of ``strides``, ``dilations``, ``out_indices`` and
        ``stage_with_dcn`` following ``num_stages``; then the checks of
        ``extras``, AttnResNet's own arguments."""
        name = type(self).__name__
        try:
            bound = inspect.signature(ResNet.__init__).bind(
                self, depth, *args, **kwargs)
        except TypeError as error:
            raise TypeError(f'{name}: {error}') from None
        given = set(bound.arguments)
        bound.apply_defaults()
        resnet_args = dict(bound.arguments)
        del resnet_args['self']
        a = resnet_args
        check_choice(name, 'depth', depth, tuple(self.arch_settings))
        bottleneck = issubclass(self.arch_settings[depth][0], Bottleneck)
        check_channels(name, 'in_channels', a['in_channels'])
        if a['stem_channels'] is not None:
            check_channels(name, 'stem_channels', a['stem_channels'])
        check_channels(name, 'base_channels', a['base_channels'])
        num_stages = a['num_stages']
        check_positive_int(name, 'num_stages', num_stages, 4)
        for key in ('strides', 'dilations', 'stage_with_dcn'):
            if key not in given:
                a[key] = a[key][:num_stages]
        if 'out_indices' not in given:
            a['out_indices'] = tuple(range(num_stages))
        per_stage = f'stage (num_stages={num_stages})'
        for key in ('strides', 'dilations'):
            check_int_sequence(name, key, a[key], num_stages, 1,
                               MAX_KERNEL_SIZE, per_stage)
        a['out_indices'] = checked_out_indices(name, a['out_indices'],
                                               num_stages)
        check_choice(name, 'style', a['style'], ('pytorch', 'caffe'))
        for key in ('deep_stem', 'avg_down'):
            check_bool(name, key, a[key])
        frozen_stages = a['frozen_stages']
        if not (isinstance(frozen_stages, int)
                and not isinstance(frozen_stages, bool)
                and -1 <= frozen_stages <= num_stages):
            raise (ValueError if isinstance(frozen_stages, int) else
                   TypeError)(
                f'{name}: frozen_stages={frozen_stages!r} is invalid; it '
                f'must lie in [-1, num_stages={num_stages}]')
        check_cfg(name, 'conv_cfg', a['conv_cfg'], optional=True)
        check_cfg(name, 'norm_cfg', a['norm_cfg'])
        check_bool(name, 'norm_eval', a['norm_eval'])
        check_cfg(name, 'dcn', a['dcn'], optional=True)
        check_flags(name, 'stage_with_dcn', a['stage_with_dcn'], num_stages,
                    per_stage, exact=a['dcn'] is not None)
        plugins = a['plugins']
        if plugins is not None:
            check_plugins(name, plugins, num_stages)
        for key in ('with_cp', 'zero_init_residual'):
            check_bool(name, key, a[key])
        if a['pretrained'] is not None and not isinstance(
                a['pretrained'], str):
            raise TypeError(f"{name}: pretrained={a['pretrained']!r} is "
                            'invalid; it must be a path or URL, or None.')
        if a['pretrained'] is not None and a['init_cfg'] is not None:
            raise ValueError(
                f"{name}: pretrained={a['pretrained']!r} is invalid with "
                "init_cfg set; use init_cfg=dict(type='Pretrained', "
                'checkpoint=...) alone.')

        conv2_cfg = extras['conv2_cfg']
        check_cfg(name, 'conv2_cfg', conv2_cfg, optional=True)
        if conv2_cfg is not None:
            check_cfg_leaves_out(name, 'conv2_cfg', conv2_cfg,
                                 ('in_channels', 'out_channels', 'stride'))
            conv2_type = conv2_cfg['type']
            if isinstance(conv2_type, str) and conv2_type in MODELS:
                check_cfg_arguments(name, 'conv2_cfg', conv2_cfg,
                                    MODELS.get(conv2_type))
        check_flags(name, 'stage_with_conv2', extras['stage_with_conv2'],
                    num_stages, per_stage, exact=False)
        check_bool(name, 'conv2_norm', extras['conv2_norm'])
        width_multiplier = extras['width_multiplier']
        check_real(name, 'width_multiplier', width_multiplier, 0,
                   MAX_CHANNELS)
        if not bottleneck:
            for argument, default in (('conv2_cfg', None),
                                      ('conv2_norm', True),
                                      ('width_multiplier', 1)):
                if extras[argument] != default:
                    raise ValueError(
                        f'{name}: {argument}={extras[argument]!r} is invalid '
                        f'with depth={depth}; it applies to the 3x3 conv of '
                        'a Bottleneck (depth 50, 101 or 152), BasicBlock '
                        'ResNets have none')

        stem_channels = a['stem_channels'] or a['base_channels']
        if a['deep_stem'] and stem_channels < 2:
            raise ValueError(
                f"{name}: stem_channels={a['stem_channels']!r} is invalid; "
                f'the deep stem halves it, so it must be >= 2 (it is '
                f'{stem_channels})')
        widest = a['base_channels'] * 2**(num_stages - 1)
        expansion = self.arch_settings[depth][0].expansion
        if widest * expansion > MAX_CHANNELS:
            raise ValueError(
                f"{name}: base_channels={a['base_channels']!r} is invalid; "
                f'the last stage would have {widest * expansion} channels, '
                f'more than {MAX_CHANNELS}')
        if bottleneck and not (
                int(a['base_channels'] * width_multiplier) >= 1
                and int(widest * width_multiplier) <= MAX_CHANNELS):
            raise ValueError(
                f'{name}: width_multiplier={width_multiplier!r} is invalid; '
                f"the inner widths base_channels * 2**i * width_multiplier "
                f'must lie in [1, {MAX_CHANNELS}]')
        dcn_stages = [
            i for i in range(num_stages) if a['dcn'] is not None
            and a['stage_with_dcn'][i]
        ]
        if dcn_stages and a['conv_cfg'] is not None:
            raise ValueError(
                f"{name}: dcn={a['dcn']!r} is invalid with conv_cfg="
                f"{a['conv_cfg']!r}; deformable convs need conv_cfg=None")
        if dcn_stages and not bottleneck:
            raise ValueError(
                f"{name}: dcn={a['dcn']!r} is invalid with depth={depth}; "
                'deformable convs replace the 3x3 conv of a Bottleneck '
                '(depth 50, 101 or 152)')
        both = [
            i for i in dcn_stages
            if conv2_cfg is not None and extras['stage_with_conv2'][i]
        ]
        if both:
            raise ValueError(
                f"{name}: dcn={a['dcn']!r} is invalid with conv2_cfg="
                f'{conv2_cfg!r}; both would replace conv2 in stages {both}')
        return resnet_args

    def init_weights(self) -> None:
        # mmengine would load a mismatching checkpoint with a warning only.
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'
                and not getattr(self, '_is_init', False)):
            check_pretrained_keys(self, self.init_cfg)
        super().init_weights()

    def train(self, mode: bool = True) -> 'AttnResNet':
        # mmdet's ResNet.train() applies norm_eval but returns None.
        super().train(mode)
        return self

    def make_res_layer(self, **kwargs) -> nn.Module:
        # mmdet's ResNet builds its stages in order: count them.
        stage = self._stages_built
        self._stages_built += 1
        extras = self._block_extras
        with_conv2 = extras['stage_with_conv2'][stage]
        block = kwargs.pop('block')
        planes = kwargs['planes']
        first_conv2_stride = kwargs['stride'] if self.style == 'pytorch' else 1
        connected = [
            self.connected_attention(
                BlockSite(stage=stage, index=index,
                          width=int(planes * extras['width_multiplier']),
                          channels=planes * block.expansion,
                          conv2_stride=first_conv2_stride if index == 0
                          else 1)) for index in range(kwargs['num_blocks'])
        ]
        if issubclass(block, AttnBottleneck):
            kwargs.update(
                conv2_cfg=extras['conv2_cfg'] if with_conv2 else None,
                conv2_norm=extras['conv2_norm'] if with_conv2 else True,
                width_multiplier=extras['width_multiplier'])
        layer = super().make_res_layer(block=_PerBlock(block, connected),
                                       **kwargs)
        layer.block = block
        return layer

    def connected_attention(
            self, site: BlockSite) -> List[ConnectedAttention]:
        """The connected attention the block at ``site`` carries: none in a
        plain AttnResNet. Backbones with connected attention (DCA, EMCA)
        override this; it is called once per block, in network order, while
        the stages are built."""
        return []

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        check_feature_map(type(self).__name__, x, self.in_channels)
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        state = AttentionState()
        outs = []
        for stage, layer_name in enumerate(self.res_layers):
            for block in getattr(self, layer_name):
                x, state = block.forward_with_state(x, state)
            if stage in self.out_indices:
                outs.append(x)
        return tuple(outs)


class _PerBlock:
    """Stands in for the block class in mmdet's ``ResLayer``, which calls it
    once per block in order with the same arguments: it hands block i the
    i-th entry of ``connected`` as well."""

    def __init__(self, block: type,
                 connected: List[List[ConnectedAttention]]) -> None:
        self.block = block
        self.expansion = block.expansion
        self._connected = iter(connected)

    def __call__(self, **kwargs) -> nn.Module:
        return self.block(connected=next(self._connected), **kwargs)
