"""Bottleneck Attention Module (Park et al., "BAM: Bottleneck Attention
Module", BMVC 2018)."""
import torch
from mmengine.model import constant_init, kaiming_init
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (MAX_KERNEL_SIZE, batch_norm_any_size,
                                 check_choice, check_positive_int)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class BAM(AttentionModule):
    """Bottleneck Attention Module: parallel channel and spatial branches.

    ``F' = F + F ⊗ M(F)`` with ``M(F) = σ(M_c(F) + M_s(F))`` (paper eqs. 1-4),
    i.e. ``F · (1 + σ(M_c + M_s))``, the C×1×1 and 1×H×W maps broadcast to
    C×H×W.

    * Channel branch ``M_c``: GAP, then an MLP C → C/r → C.
    * Spatial branch ``M_s``: 1×1 conv C → C/r, two 3×3 convs with dilation
      d, 1×1 conv C/r → 1.

    Layers follow the authors' code, which differs from the paper's
    equations in where BN sits: every hidden layer is followed by BN and
    ReLU (BatchNorm1d after the first FC, BN2d after the first three
    convolutions), and the last FC and last 1×1 conv have neither; all FCs
    and convs have a bias. The authors' code also combines the branches by
    a product where the paper (and its ablation, Table 2b, where the sum is
    best) uses the sum: ``fusion`` selects, default the paper's sum. With
    h = ⌊C/r⌋ a module has ``2Ch + 3h + C`` (channel) plus
    ``Ch + 18h² + 10h + 1`` (spatial) parameters.

    The paper places BAM once per stage, at the bottlenecks between stages;
    as an mmattn plugin its natural position is ``after_conv3`` (after bn3,
    before the residual add), in every block of the chosen stages.

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Reduction ratio r of both branches. Default: 16.
        dilation (int): Dilation d of the two 3×3 convolutions. Default: 4.
        fusion (str): ``'sum'`` (paper) or ``'product'`` (authors' code) of
            the two branches before the sigmoid. Default: ``'sum'``.
        init_cfg (dict, optional): mmengine init config. By default the
            authors' initialisation: convolutions Kaiming normal (fan_out),
            FC weights PyTorch's default, every bias zero, BN weight 1;
            :meth:`init_weights` re-applies it after a backbone's own init.
    """

    _abbr_ = 'bam'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 dilation: int = 4,
                 fusion: str = 'sum',
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.check_reduction(reduction)
        check_positive_int('BAM', 'dilation', dilation, MAX_KERNEL_SIZE)
        check_choice('BAM', 'fusion', fusion, ('sum', 'product'))
        self.fusion = fusion
        hidden = in_channels // reduction
        self.channel_fc1 = nn.Linear(in_channels, hidden)
        self.channel_bn = nn.BatchNorm1d(hidden)
        self.channel_fc2 = nn.Linear(hidden, in_channels)
        self.spatial_convs = nn.ModuleList([
            nn.Conv2d(in_channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation),
        ])
        self.spatial_bns = nn.ModuleList(
            [nn.BatchNorm2d(hidden) for _ in range(3)])
        self.spatial_out = nn.Conv2d(hidden, 1, 1)
        self.relu = nn.ReLU()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for fc in (self.channel_fc1, self.channel_fc2):
            fc.reset_parameters()
            nn.init.zeros_(fc.bias)
        for conv in (*self.spatial_convs, self.spatial_out):
            kaiming_init(conv, mode='fan_out')
        for bn in (self.channel_bn, *self.spatial_bns):
            constant_init(bn, 1)

    def channel_attention(self, x: Tensor) -> Tensor:
        """M_c(F): (B, C, H, W) -> (B, C, 1, 1)."""
        hidden = batch_norm_any_size(self.channel_bn,
                                     self.channel_fc1(x.mean((2, 3))))
        logits = self.channel_fc2(self.relu(hidden))
        return logits.reshape(*logits.shape, 1, 1)

    def spatial_attention(self, x: Tensor) -> Tensor:
        """M_s(F): (B, C, H, W) -> (B, 1, H, W)."""
        for conv, bn in zip(self.spatial_convs, self.spatial_bns):
            x = self.relu(batch_norm_any_size(bn, conv(x)))
        return self.spatial_out(x)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        channel = self.channel_attention(x)
        spatial = self.spatial_attention(x)
        if self.fusion == 'sum':
            logits = channel + spatial
        else:
            logits = channel * spatial
        # x·(1 + σ) as x + x·σ, σ computed in place: one full-size tensor
        # written fewer (the broadcast sum or product is a new tensor).
        return torch.addcmul(x, x, logits.sigmoid_())
