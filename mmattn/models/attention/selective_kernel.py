"""Selective Kernel convolution (Li, Wang, Hu and Yang, "Selective Kernel
Networks", CVPR 2019)."""
from typing import Optional, Tuple

import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.attention.connectable import Link
from mmattn.models.utils import (MAX_CHANNELS, MAX_KERNEL_SIZE,
                                 WideGroupConv2d, check_cfg, check_channels,
                                 check_divisible, check_positive_int,
                                 keep_memory_format, norm_any_size)
from mmattn.registry import CONV_REPLACEMENT, register


@register(CONV_REPLACEMENT)
class SK(AttentionModule):
    """Selective Kernel convolution, a replacement of a bottleneck's 3×3 conv
    (``conv2``; the block's bn2 + ReLU follow it).

    With M = ``branches`` and C = ``out_channels``:

    * Split: ``U_i = ReLU(BN(Conv3×3(dilation=i+1, groups=G)(X)))``,
      i = 0..M-1. The paper's 5×5 branch is its 3×3 conv with dilation 2,
      the "SK[M=2, G=32, r=16]" setting.
    * Fuse: ``U = Σ_i U_i``, ``s = GAP(U)`` (paper eqs. 1-2),
      ``z = ReLU(BN(W s))`` with W: C → d, ``d = max(C / r, L)`` (eqs. 3-4).
    * Select: ``a_i = softmax over i of (A_i z)``, A_i: d → C (eq. 5),
      ``V = Σ_i a_i · U_i`` (eq. 6).

    As in the paper the FCs have no bias (each feeds a BN or a softmax), so
    the module has ``M·(in·C·9/G + 2C) + C·d + 2d + d·M·C`` parameters.
    The BN after W normalises a (B, d) vector; a batch of one (or a branch
    BN on a single 1×1 map) has no batch statistics in training and is
    normalised with the running ones
    (:func:`~mmattn.models.utils.batch_norm_any_size`).

    The DCA paper's SK-ResNet-50 (Ma et al., "DCANet: Learning Connected
    Attentions for Convolutional Neural Networks", arXiv:2007.05099) is
    built, in its authors' code, on ResNet-50 widths with ungrouped 3×3
    branch convs and ``d = C / 16``: that is
    ``SK(planes, planes, stride, groups=1, min_channels=1)`` per bottleneck,
    which gives their 37.12M-parameter SK-ResNet-50 (37,118,080). In their
    code, as in SKNet, V goes straight into conv3: a block that keeps bn2
    after SK adds 2·C parameters per block (37,125,632 for ResNet-50).

    The module is connectable, as DCA needs it; the attention runs on the
    branch features ``u = split(x)``:

    * :meth:`extract` (g): the per-branch GAP, (B, M, C). Its sum over the
      branches is the paper's ``s`` (GAP is linear); DCA connects the
      previous block's state to each branch's GAP before that sum.
    * :meth:`transform` (t): the selection weights ``a``, (B, M, C).
    * :meth:`fuse`: ``V = Σ_i a_i · U_i``.

    The DCA state, the per-branch GAP of the selected features, is
    ``a · extract(u)`` since ``a`` is constant over space.

    Args:
        in_channels (int): Input channels; divisible by ``groups``.
        out_channels (int): Output channels C; divisible by ``groups``.
        stride (int): Stride of every branch conv. Default: 1.
        branches (int): Number of branches M (>= 2); branch i is a 3×3 conv
            with dilation i + 1. Default: 2.
        groups (int): Groups G of the branch convs. Default: 32.
        reduction (int): Reduction ratio r of the fuse FC. Default: 16.
        min_channels (int): Lower bound L of the fuse FC width d.
            Default: 32.
        norm_cfg (dict): Norm after each branch conv and after the fuse FC.
            Default: BN.
        init_cfg (dict, optional): mmengine init config. By default every conv
            gets Kaiming-normal (fan_out, ReLU) weights and every norm weight
            1 and bias 0, the init of the authors' (and torchvision's) ResNets;
            :meth:`init_weights` re-applies it so that a backbone's init does
            not overwrite it.
    """

    _abbr_ = 'sk'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 branches: int = 2,
                 groups: int = 32,
                 reduction: int = 16,
                 min_channels: int = 32,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, init_cfg)
        check_channels('SK', 'out_channels', out_channels)
        check_positive_int('SK', 'stride', stride, MAX_KERNEL_SIZE)
        check_positive_int('SK', 'groups', groups, MAX_CHANNELS)
        check_divisible('SK', 'in_channels', in_channels, groups, 'groups')
        check_divisible('SK', 'out_channels', out_channels, groups, 'groups')
        check_positive_int('SK', 'branches', branches, MAX_KERNEL_SIZE)
        if branches < 2:
            # With one branch the softmax is constantly 1 and the FCs would
            # never receive a gradient.
            raise ValueError(f'SK: branches={branches!r} is invalid; it must '
                             'be an integer >= 2.')
        check_positive_int('SK', 'reduction', reduction)
        check_channels('SK', 'min_channels', min_channels)
        check_cfg('SK', 'norm_cfg', norm_cfg)

        self.branches = branches
        self.out_channels = out_channels
        self.convs = nn.ModuleList(
            WideGroupConv2d(in_channels, out_channels, 3, stride,
                            padding=i + 1, dilation=i + 1, groups=groups,
                            bias=False) for i in range(branches))
        self.norms = nn.ModuleList(
            build_norm_layer(norm_cfg, out_channels)[1]
            for _ in range(branches))
        self.act = nn.ReLU()
        hidden = max(out_channels // reduction, min_channels)
        self.fc1 = nn.Conv2d(out_channels, hidden, 1, bias=False)
        self.fc_norm = build_norm_layer(norm_cfg, hidden)[1]
        self.fc2 = nn.Conv2d(hidden, branches * out_channels, 1, bias=False)

    def reset_parameters(self) -> None:
        for conv in (*self.convs, self.fc1, self.fc2):
            nn.init.kaiming_normal_(
                conv.weight, mode='fan_out', nonlinearity='relu')
        for norm in (*self.norms, self.fc_norm):
            norm.reset_parameters()

    def split(self, x: Tensor) -> Tensor:
        """Branch features U_i of ``x``, stacked: (B, M, C, H', W')."""
        return torch.stack([
            self.act(norm_any_size(norm, conv(x)))
            for conv, norm in zip(self.convs, self.norms)
        ], dim=1)

    def extract(self, u: Tensor) -> Tensor:
        """Per-branch GAP of the branch features ``u``: (B, M, C)."""
        return u.mean((3, 4))

    def transform(self, context: Tensor) -> Tensor:
        """Selection weights a (B, M, C) from the per-branch GAP (B, M, C);
        they sum to 1 over the branches."""
        batch = context.shape[0]
        s = context.sum(1).reshape(batch, self.out_channels, 1, 1)
        z = self.act(norm_any_size(self.fc_norm, self.fc1(s)))
        logits = self.fc2(z).reshape(batch, self.branches, self.out_channels)
        return logits.softmax(dim=1)

    def fuse(self, u: Tensor, weights: Tensor) -> Tensor:
        """V = Σ_i a_i · U_i: (B, C, H', W')."""
        # Under autocast the softmax runs in float32; keep the large product
        # in the features' dtype.
        return (u * weights.to(u.dtype)[..., None, None]).sum(1)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        u = self.split(x)
        out = self.fuse(u, self.transform(self.extract(u)))
        return keep_memory_format(out, x)

    def dca_links(self) -> Tuple['SKLink']:
        """DCA connects the selection (see :class:`SKLink`)."""
        return (SKLink(), )


class SKLink(Link):
    """How DCA connects SK: contexts are the per-branch GAPs (B, M, C) of
    the branch features, each branch with its own connection and matching
    as in the authors' code; the state is the per-branch GAP of the
    selected features, ``a_i · GAP(U_i)``."""

    key = 'branches'
    separate = True

    def descriptors(self, attention):
        return attention.branches

    def prepare(self, attention, x):
        return attention.split(x)

    def extract(self, attention, features):
        return attention.extract(features)

    def transform(self, attention, context):
        return attention.transform(context)

    def fuse(self, attention, features, weights):
        return attention.fuse(features, weights)

    def state(self, context, weights, out):
        return weights * context
