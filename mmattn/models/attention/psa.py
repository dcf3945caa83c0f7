"""Pyramid Squeeze Attention (Zhang, Zu, Lu, Zou and Meng, "EPSANet: An
Efficient Pyramid Squeeze Attention Block on Convolutional Neural Network",
ACCV 2022; first released as arXiv:2105.14447, 2021, "... Pyramid Split
Attention ...", whose equation numbers are cited here)."""
import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (MAX_KERNEL_SIZE, WideGroupConv2d,
                                 check_channels, check_divisible,
                                 check_odd_kernels, check_positive_int)
from mmattn.registry import CONV_REPLACEMENT, register


def check_group_counts(module: str, groups: Sequence[int], scales: int,
                       in_channels: int, branch_channels: int) -> None:
    """Raise TypeError/ValueError unless ``groups`` holds one group count per
    scale, each dividing ``in_channels`` and ``branch_channels``."""
    rule = (f'it must be a list or tuple of {scales} integers >= 1, one per '
            'kernel')
    if not isinstance(groups, (list, tuple)) or not all(
            isinstance(g, int) and not isinstance(g, bool) for g in groups):
        raise TypeError(f'{module}: groups={groups!r} is invalid; {rule}.')
    if len(groups) != scales or min(groups) < 1:
        raise ValueError(f'{module}: groups={groups!r} is invalid; {rule}.')
    for i, g in enumerate(groups):
        check_divisible(module, 'in_channels', in_channels, g, f'groups[{i}]')
    for i, g in enumerate(groups):
        if branch_channels % g:
            raise ValueError(
                f'{module}: out_channels={branch_channels * scales} is '
                f'invalid; out_channels / len(kernels) = {branch_channels} '
                f'must be divisible by groups[{i}]={g}.')


@register(CONV_REPLACEMENT)
class PSA(AttentionModule):
    """Pyramid Squeeze Attention, the EPSANet replacement of a bottleneck's
    3×3 conv (``conv2``; the block's bn2 + ReLU follow it).

    With S = ``len(kernels)`` scales and C' = ``out_channels / S``:

    * SPC (paper eqs. 3-5): ``F_i = Conv(k_i × k_i, G_i)(X)``, i = 0..S-1,
      each branch producing C' channels. As in the authors' code (and unlike
      the paper text, which splits X into S channel parts) every branch sees
      the whole input; this is what gives the reported 22.56M parameters of
      EPSANet-50 (Small).
    * ``Z_i = SEWeight(F_i)`` (eq. 6): GAP → 1×1 conv C'→h (bias) → ReLU →
      1×1 conv h→C' (bias) → sigmoid, h = max(1, C' // se_reduction). One
      SEWeight module is shared by all S branches; it runs once on the S
      branches folded into the batch.
    * ``att_i = softmax over i of Z_i``, per channel (eq. 8).
    * ``Out = Cat([F_0 ⊙ att_0, ..., F_{S-1} ⊙ att_{S-1}])`` (eqs. 10-11).

    Parameters: ``Σ_i in·C'·k_i²/G_i + 2·C'·h + h + C'``.

    The output is concatenated in kernel order (k_0 first). The authors' loop
    concatenates in reverse ([k9, k7, k5, k3]); a converter of their
    checkpoints must reverse the S channel blocks (of the following bn2 and
    conv3's input channels). Their ``conv_1..conv_4`` map to ``convs.0..3``
    and ``se.fc1/fc2`` to ``se_fc1/se_fc2``.

    EPSANet settings (paper Table 1): Small uses ``groups=(1, 4, 8, 16)`` at
    the ResNet bottleneck width; Large uses ``groups=(32, 32, 32, 32)`` with
    the bottleneck width doubled.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels; divisible by ``len(kernels)``.
        stride (int): Stride of every branch conv. Default: 1.
        kernels (Sequence[int]): Odd kernel size per scale.
            Default: (3, 5, 7, 9).
        groups (Sequence[int]): Conv groups per scale; each must divide
            ``in_channels`` and ``out_channels / S``. Default: (1, 4, 8, 16).
        se_reduction (int): Reduction of the shared SEWeight module.
            Default: 16.
        init_cfg (dict, optional): mmengine init config. By default every conv
            gets the authors' init, weight ~ normal(0, sqrt(2 / (k·k·out)))
            with ``out`` that conv's output channels and PyTorch's default
            bias; :meth:`init_weights` re-applies it so that a backbone's
            Kaiming init of every Conv2d does not overwrite it.
    """

    _abbr_ = 'psa'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 kernels: Sequence[int] = (3, 5, 7, 9),
                 groups: Sequence[int] = (1, 4, 8, 16),
                 se_reduction: int = 16,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, init_cfg)
        name = type(self).__name__  # subclasses (DMSA) report their own
        check_channels(name, 'out_channels', out_channels)
        check_positive_int(name, 'stride', stride, MAX_KERNEL_SIZE)
        check_odd_kernels(name, 'kernels', kernels)
        scales = len(kernels)
        check_divisible(name, 'out_channels', out_channels, scales,
                        'len(kernels)')
        branch_channels = out_channels // scales
        check_group_counts(name, groups, scales, in_channels, branch_channels)
        check_positive_int(name, 'se_reduction', se_reduction)

        self.scales = scales
        self.branch_channels = branch_channels
        self.convs = nn.ModuleList(
            WideGroupConv2d(in_channels, branch_channels, k, stride,
                            padding=k // 2, groups=g, bias=False)
            for k, g in zip(kernels, groups))
        hidden = max(1, branch_channels // se_reduction)
        self.se_fc1 = nn.Conv2d(branch_channels, hidden, 1)
        self.se_act = nn.ReLU()
        self.se_fc2 = nn.Conv2d(hidden, branch_channels, 1)

    def reset_parameters(self) -> None:
        for conv in (*self.convs, self.se_fc1, self.se_fc2):
            conv.reset_parameters()
            fan_out = conv.kernel_size[0] * conv.kernel_size[1] * \
                conv.out_channels
            nn.init.normal_(conv.weight, 0, math.sqrt(2 / fan_out))

    def refine_scales(self, feats: Tensor) -> Tensor:
        """The concatenated per-scale features (B, S·C', H, W) before the
        scale weighting. PSA uses them as they are; DMSA applies its dual
        attention unit here."""
        return feats

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        feats = self.refine_scales(
            torch.cat([conv(x) for conv in self.convs], dim=1))
        batch, channels = feats.shape[:2]
        # The SEWeight shared by the scales runs once on the pooled scales
        # folded into the batch; the features keep their memory format.
        pooled = feats.mean((2, 3)).reshape(batch * self.scales,
                                            self.branch_channels, 1, 1)
        logits = self.se_fc2(self.se_act(self.se_fc1(pooled)))
        weights = logits.sigmoid().reshape(batch, self.scales,
                                           self.branch_channels)
        weights = weights.softmax(dim=1).reshape(batch, channels, 1, 1)
        # Under autocast the softmax runs in float32; keep the large product
        # in the features' dtype.
        return feats * weights.to(feats.dtype)
