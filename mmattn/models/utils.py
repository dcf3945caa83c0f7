"""Pieces shared by the attention modules and backbones."""
import inspect
import math
import numbers
from typing import Iterable, Mapping, NoReturn, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmattn.registry import check_type


def make_divisible(value: float, divisor: int = 8, min_value: int = None,
                   round_limit: float = 0.9) -> int:
    """Round ``value`` to a multiple of ``divisor``, not going below
    ``round_limit`` times the value (MobileNet/timm convention)."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle: (B, g*c, H, W) -> interleave the g groups."""
    return shuffled_view(x, groups).reshape(x.shape)


def group_halves(x: Tensor, groups: int) -> Tuple[Tensor, Tensor]:
    """Shuffle attention's split: the ``groups`` channel groups of x
    (B, C, H, W) folded into the batch and cut into two halves, two
    (B·G, C/(2G), H, W) tensors (the channel half and the spatial half)."""
    batch, channels, height, width = x.shape
    grouped = x.reshape(batch * groups, channels // groups, height, width)
    return grouped.chunk(2, dim=1)


def shuffled_view(x: torch.Tensor, groups: int) -> torch.Tensor:
    """The channel-shuffled x as a view, (B, c, g, H, W): an elementwise op
    on such views writes its result in shuffled order without a copy."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2)


def keep_memory_format(out: Tensor, like: Tensor) -> Tensor:
    """``out`` in the memory format of ``like``: channels-last when
    ``like`` is (and not also contiguous), as it is otherwise. For modules
    whose internal reshapes produce contiguous tensors, so that a
    channels-last input gives a channels-last output."""
    if like.dim() == 4 and not like.is_contiguous() and like.is_contiguous(
            memory_format=torch.channels_last):
        return out.contiguous(memory_format=torch.channels_last)
    return out


def block_diagonal(weight: Tensor, groups: int, factor: int) -> Tensor:
    """The weight of a ``groups``-group 2-D conv as that of a conv with
    ``groups / factor`` groups that computes the same outputs: each wider
    group holds ``factor`` of the original groups on its diagonal and zeros
    elsewhere. (C_out, C_in/groups, k, k) -> (C_out, factor·C_in/groups, k,
    k)."""
    out_channels, group_in, height, width = weight.shape
    blocks = weight.reshape(groups // factor, factor, out_channels // groups,
                            group_in, height, width)
    eye = torch.eye(factor, dtype=weight.dtype, device=weight.device)
    wide = torch.einsum('afockl,fj->afojckl', blocks, eye)
    return wide.reshape(out_channels, factor * group_in, height, width)


class WideGroupConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same outputs) whose groups of few
    input channels run on CPU as fewer, wider groups of a block-diagonal
    weight (:func:`block_diagonal`).

    oneDNN's CPU kernels are slow for groups of few channels: a 9×9 conv of
    16 groups of 4 → 1 channels runs at about 2.5 G multiply-adds per second
    on one core, while groups of 32 input channels run at 20-60. Merging
    groups until each sees ``min_group_channels`` inputs multiplies the
    work by the merge factor and still finishes several times sooner, in the
    forward and the backward pass. On other devices the conv runs as it is;
    ``groups`` and the weight's shape are those of the plain conv, so
    parameter counts, checkpoints and complexity counts are unchanged.
    """

    min_group_channels = 32

    def _conv_forward(self, input: Tensor, weight: Tensor,
                      bias: Optional[Tensor]) -> Tensor:
        groups = self.groups
        if input.device.type == 'cpu':
            groups = self._cpu_groups()
        if groups != self.groups:
            weight = block_diagonal(weight, self.groups, self.groups // groups)
        return F.conv2d(input, weight, bias, self.stride, self.padding,
                        self.dilation, groups)

    def _cpu_groups(self) -> int:
        """The fewest merges that give each group ``min_group_channels``
        inputs: the largest divisor of ``groups`` with
        ``in_channels / divisor >= min_group_channels`` (at least 1)."""
        fitting = [d for d in range(1, self.groups + 1)
                   if self.groups % d == 0
                   and self.in_channels // d >= self.min_group_channels]
        return max(fitting, default=1)


def eca_kernel_size(channels: int, gamma: int = 2, beta: int = 1) -> int:
    """ECA-Net's adaptive kernel size k = |log2(C)/gamma + beta/gamma|_odd."""
    k = int(abs((math.log2(channels) + beta) / gamma))
    return k if k % 2 else k + 1


def adaptive_pool_matrix(out_size: int, in_size: int,
                         like: torch.Tensor) -> torch.Tensor:
    """(out_size, in_size) matrix P with ``P @ v == adaptive_avg_pool1d(v)``.

    Uses PyTorch's bins [floor(i·n/m), ceil((i+1)·n/m)), so it is exact for
    every size, also when upsampling (n < m). Built from tensor operations on
    the sizes, it also traces and exports to ONNX for dynamic sizes, where
    adaptive pooling to a size other than 1 does not.
    """
    i = torch.arange(out_size, device=like.device)
    start = (i * in_size) // out_size
    end = ((i + 1) * in_size + out_size - 1) // out_size
    pos = torch.arange(in_size, device=like.device)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)


def match_spatial(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Adaptive average pooling of ``x`` (B, C, H, W) to ``size`` (DCA
    paper §3.3: previous spatial attention is average-pooled to the current
    size).

    Where the size divides (every ResNet stage change of a classification
    input) this is ``avg_pool2d`` with kernel = stride = the ratio, which
    exports to ONNX as ``AveragePool``. Other sizes (detection inputs: 25 →
    13 after a stride-2 stage) use area interpolation, i.e. adaptive average
    pooling with overlapping windows, which ONNX cannot express; the
    authors' integer-stride pooling fails on them instead.

    While tracing (``torch.onnx.export(dynamo=False)``) the pooling is the
    same adaptive average as products with pooling matrices
    (:func:`~mmattn.models.utils.adaptive_pool_matrix`): exportable, and
    correct for every input size, where the branches above would be recorded
    with the example input's sizes.
    """
    height, width = x.shape[-2:]
    out_height, out_width = size
    if torch.jit.is_tracing():
        pool_h = adaptive_pool_matrix(out_height, height, x)
        pool_w = adaptive_pool_matrix(out_width, width, x)
        return pool_h @ x @ pool_w.t()
    if (height, width) == (out_height, out_width):
        return x
    if height % out_height == 0 and width % out_width == 0:
        return F.avg_pool2d(x, (height // out_height, width // out_width))
    return F.interpolate(x, size=(out_height, out_width), mode='area')


def batch_norm_any_size(norm: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Apply ``norm`` to ``x``, also when ``x`` holds one value per channel.

    In training mode BatchNorm estimates statistics over every dimension but
    the channels, and PyTorch raises when that is a single value (a batch of
    one pooled vector, or a 1×1 map of a single image). One value has no
    batch statistics, so such an input is normalised with the running
    estimates, as in evaluation, and the running estimates stay unchanged.
    Attention modules normalising pooled descriptors need this to train with
    one image per GPU.
    """
    if norm.training and x.numel() == x.shape[1]:
        return F.batch_norm(x, norm.running_mean, norm.running_var,
                            norm.weight, norm.bias, False, 0.0, norm.eps)
    return norm(x)


def group_norm_any_size(x: torch.Tensor, num_groups: int,
                        weight: torch.Tensor = None,
                        bias: torch.Tensor = None,
                        eps: float = 1e-5) -> torch.Tensor:
    """``F.group_norm``, also when every group holds a single value.

    PyTorch refuses that case (``x.numel() == num_groups``: one image, one
    channel per group, a 1×1 map) with "Expected more than 1 value per
    channel when training", in evaluation mode too. A single value is its
    group's mean, so it normalises to 0 and the output is the affine bias
    (0 without affine), which is what this returns.
    """
    if not torch.jit.is_tracing() and x.numel() == num_groups:
        out = torch.zeros_like(x)
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        if weight is not None:
            out = out * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        return out
    return F.group_norm(x, num_groups, weight, bias, eps)


def norm_any_size(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a norm layer to ``x`` of any size, as
    :func:`batch_norm_any_size` (BatchNorm with running statistics) and
    :func:`group_norm_any_size` (GroupNorm) do; other layers are called as
    they are."""
    if isinstance(norm, _BatchNorm) and norm.running_mean is not None:
        return batch_norm_any_size(norm, x)
    if (isinstance(norm, torch.nn.GroupNorm) and not torch.jit.is_tracing()
            and x.numel() == norm.num_groups):
        return group_norm_any_size(x, norm.num_groups, norm.weight,
                                   norm.bias, norm.eps)
    return norm(x)


#: Largest channel or group count the validators accept: 32 times the widest
#: layer of a ResNet-152, and small enough that a mistyped value (a size in
#: pixels, 10**9) fails here, naming the argument, instead of in the
#: allocator.
MAX_CHANNELS = 2**16
#: Largest kernel size, dilation or window the validators accept (published
#: CNN kernels go up to 51).
MAX_KERNEL_SIZE = 255


def _fail(module: str, argument: str, value, rule: str,
          error: type = ValueError) -> NoReturn:
    raise error(f'{module}: {argument}={value!r} is invalid; {rule}.')


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(module: str, argument: str, value,
                       maximum: Optional[int] = None) -> None:
    """Raise TypeError unless ``value`` is an integer (not a bool), and
    ValueError unless 1 <= ``value`` <= ``maximum``."""
    rule = ('it must be an integer >= 1' if maximum is None else
            f'it must be an integer in [1, {maximum}]')
    if not _is_int(value):
        _fail(module, argument, value, rule, TypeError)
    if value < 1 or maximum is not None and value > maximum:
        _fail(module, argument, value, rule)


def check_channels(module: str, argument: str, value) -> None:
    """Raise TypeError/ValueError unless ``value`` is a channel count, an
    integer in [1, MAX_CHANNELS]."""
    check_positive_int(module, argument, value, MAX_CHANNELS)


def check_divisible(module: str, argument: str, value: int, divisor: int,
                    divisor_name: str) -> None:
    """Raise TypeError/ValueError unless ``value`` is a positive integer
    that ``divisor`` divides."""
    check_positive_int(module, argument, value)
    if value % divisor:
        _fail(module, argument, value,
              f'it must be divisible by {divisor_name}={divisor}')


def check_at_most(module: str, argument: str, value: int, limit: int,
                  limit_name: str) -> None:
    """Raise TypeError/ValueError unless ``value`` is an integer in
    [1, ``limit``]."""
    check_positive_int(module, argument, value)
    if value > limit:
        _fail(module, argument, value,
              f'it must not exceed {limit_name}={limit}')


def check_bool(module: str, argument: str, value) -> None:
    """Raise TypeError unless ``value`` is True or False (a string such as
    'False' would otherwise count as true)."""
    if not isinstance(value, bool):
        _fail(module, argument, value, 'it must be True or False', TypeError)


def check_real(module: str, argument: str, value, low: float,
               high: float) -> None:
    """Raise TypeError unless ``value`` is a real number (not a bool), and
    ValueError unless ``low`` < ``value`` <= ``high`` (so never NaN or
    infinite)."""
    rule = f'it must be a number in ({low}, {high}]'
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        _fail(module, argument, value, rule, TypeError)
    if not low < value <= high:
        _fail(module, argument, value, rule)


def check_odd_kernel(module: str, argument: str, value) -> None:
    """Raise TypeError/ValueError unless ``value`` is an odd kernel size in
    [1, MAX_KERNEL_SIZE] (odd, so that padding k // 2 keeps the size)."""
    rule = (f'it must be an odd integer in [1, {MAX_KERNEL_SIZE}] (so that '
            'padding k // 2 keeps the spatial size)')
    if not _is_int(value):
        _fail(module, argument, value, rule, TypeError)
    if not 1 <= value <= MAX_KERNEL_SIZE or value % 2 == 0:
        _fail(module, argument, value, rule)


def check_odd_kernels(module: str, argument: str, value) -> None:
    """Raise TypeError/ValueError unless ``value`` is a non-empty list or
    tuple of odd kernel sizes in [1, MAX_KERNEL_SIZE]."""
    rule = (f'it must be a non-empty list or tuple of odd integers in '
            f'[1, {MAX_KERNEL_SIZE}] (so that padding k // 2 keeps the '
            'spatial size)')
    if not isinstance(value, (list, tuple)) or not all(
            _is_int(k) for k in value):
        _fail(module, argument, value, rule, TypeError)
    if not value or any(not 1 <= k <= MAX_KERNEL_SIZE or k % 2 == 0
                        for k in value):
        _fail(module, argument, value, rule)


def check_int_sequence(module: str, argument: str, value, length: int,
                       low: int, high: int, per: str) -> None:
    """Raise TypeError/ValueError unless ``value`` is a list or tuple of
    ``length`` integers in [``low``, ``high``], one ``per`` item (the
    message says e.g. 'one per stage (num_stages=4)')."""
    rule = (f'it must be a list or tuple of {length} integers in '
            f'[{low}, {high}], one per {per}')
    if not isinstance(value, (list, tuple)) or not all(
            _is_int(v) for v in value):
        _fail(module, argument, value, rule, TypeError)
    if len(value) != length or any(not low <= v <= high for v in value):
        _fail(module, argument, value, rule)


def check_flags(module: str, argument: str, value, length: int, per: str,
                exact: bool = True) -> None:
    """Raise TypeError/ValueError unless ``value`` is a list or tuple of
    ``length`` booleans (at least ``length`` unless ``exact``), one ``per``
    item."""
    rule = f'it needs one flag per {per}, each True or False'
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, bool) for v in value):
        _fail(module, argument, value, rule, TypeError)
    if len(value) < length or exact and len(value) > length:
        _fail(module, argument, value, rule)


def check_choice(module: str, argument: str, value, choices: Iterable) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``, of the same
    type (so neither 50.0 for 50 nor True for 1)."""
    choices = tuple(choices)
    if not any(
            isinstance(value, type(choice)) and isinstance(value, bool) ==
            isinstance(choice, bool) and value == choice
            for choice in choices):
        _fail(module, argument, value, f'it must be one of {choices}')


def check_cfg(module: str, argument: str, value,
              optional: bool = False) -> None:
    """Raise TypeError unless ``value`` is a config dict with a ``type``
    (or None, when ``optional``), and
    :class:`~mmattn.registry.UnknownTypeError` when no model registry of
    the current scope holds its type."""
    if optional and value is None:
        return
    if not isinstance(value, Mapping) or 'type' not in value:
        rule = 'it must be a config dict with a type, e.g. dict(type=...)'
        _fail(module, argument, value,
              rule + (' or None' if optional else ''), TypeError)
    check_type(value, f'{module}.{argument}')


def check_dict(module: str, argument: str, value) -> None:
    """Raise TypeError unless ``value`` is a dict of keyword arguments."""
    if not isinstance(value, Mapping):
        _fail(module, argument, value, 'it must be a dict of arguments',
              TypeError)


def check_cfg_arguments(module: str, argument: str, cfg: Mapping,
                        cls: type) -> None:
    """Raise TypeError if ``cfg`` holds a key (other than ``type``) that
    ``cls`` does not take as an argument."""
    parameters = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = [key for key in cfg if key != 'type' and key not in parameters]
    if unknown:
        _fail(module, argument, cfg,
              f'{cls.__name__} takes no argument {", ".join(unknown)}; it '
              f'takes {tuple(parameters)}', TypeError)


def check_cfg_leaves_out(module: str, argument: str, cfg: Mapping,
                         keys: Iterable[str]) -> None:
    """Raise ValueError if ``cfg`` sets one of ``keys``, arguments that the
    module building it fills in (a user value would override them)."""
    given = [key for key in keys if key in cfg]
    if given:
        _fail(module, argument, cfg,
              f'{module} sets {", ".join(given)} itself; leave '
              f'{"it" if len(given) == 1 else "them"} out')


def check_feature_map(module: str, x: Tensor, channels: int) -> None:
    """Raise ValueError unless ``x`` is a (B, ``channels``, H, W) tensor with
    H, W >= 1, and TypeError unless it is floating-point.

    Called first in every attention module's and backbone's forward, so
    that a wrong input is reported with the module's name instead of by a
    layer deep inside; a few comparisons of sizes, which ``torch.compile``
    turns into guards.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f'{module}: the input is a {type(x).__name__}; '
                        f'expected a tensor of shape (B, {channels}, H, W).')
    if x.dim() != 4 or x.shape[1] != channels or x.shape[2] < 1 \
            or x.shape[3] < 1:
        raise ValueError(f'{module}: the input has shape {tuple(x.shape)}; '
                         f'expected (B, {channels}, H, W) with H, W >= 1.')
    if not x.is_floating_point():
        raise TypeError(f'{module}: the input has dtype {x.dtype}; expected '
                        'a floating-point tensor.')
