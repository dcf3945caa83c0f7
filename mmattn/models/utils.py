"""Pieces shared by the attention modules and backbones."""
import math
from typing import Iterable

import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm


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
    batch, channels, height, width = x.shape
    x = x.reshape(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)


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


def _fail(module: str, argument: str, value, rule: str):
    raise ValueError(f'{module}: {argument}={value!r} is invalid; {rule}.')


def check_positive_int(module: str, argument: str, value) -> None:
    """Raise ValueError unless ``value`` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(module, argument, value, 'it must be an integer >= 1')


def check_divisible(module: str, argument: str, value: int, divisor: int,
                    divisor_name: str) -> None:
    """Raise ValueError unless ``divisor`` divides ``value``."""
    check_positive_int(module, argument, value)
    if value % divisor:
        _fail(module, argument, value,
              f'it must be divisible by {divisor_name}={divisor}')


def check_at_most(module: str, argument: str, value: int, limit: int,
                  limit_name: str) -> None:
    """Raise ValueError unless 1 <= ``value`` <= ``limit``."""
    check_positive_int(module, argument, value)
    if value > limit:
        _fail(module, argument, value,
              f'it must not exceed {limit_name}={limit}')


def check_odd_kernels(module: str, argument: str,
                      kernels: Iterable[int]) -> None:
    """Raise ValueError unless every kernel size is a positive odd int."""
    kernels = tuple(kernels)
    if not kernels or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1
            or k % 2 == 0 for k in kernels):
        _fail(module, argument, kernels,
              'kernel sizes must be positive odd integers (so that padding '
              'k//2 keeps the spatial size)')


def check_choice(module: str, argument: str, value, choices: Iterable) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        _fail(module, argument, value, f'it must be one of {choices}')
