"""Squeeze-and-Excitation (Hu et al., "Squeeze-and-Excitation Networks",
CVPR 2018)."""
from typing import Tuple

from mmcv.cnn import build_activation_layer
from torch import Tensor, nn

from mmattn.models.attention.base import ChannelGate
from mmattn.models.attention.connectable import ExciteLink
from mmattn.models.utils import check_cfg
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class SE(ChannelGate):
    """Squeeze-and-Excitation channel attention.

    ``z = GAP(x)`` (paper eq. 2), ``s = σ(W2 δ(W1 z))`` (eq. 3), output
    ``x · s`` (eq. 4). W1 reduces C to C/r, W2 restores C; both are 1×1
    convolutions with bias, as in the authors' released models, so a block
    adds ``2·C²/r + C/r + C`` parameters.

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), which is where the paper places it.

    Connectable (DCA): :meth:`extract` (squeeze) and :meth:`transform`
    (excitation); :meth:`forward` fuses them with the input.

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Reduction ratio r. Default: 16.
        act_cfg (dict): Activation δ between the two FCs. Default: ReLU.
        gate_cfg (dict): Gate σ. Default: Sigmoid.
        init_cfg (dict, optional): mmengine init config. By default the FCs
            keep PyTorch's default initialisation, re-applied in
            :meth:`init_weights` so that a backbone's Kaiming init of every
            Conv2d does not overwrite it.
    """

    _abbr_ = 'se'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 act_cfg: dict = dict(type='ReLU'),
                 gate_cfg: dict = dict(type='Sigmoid'),
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.check_reduction(reduction)
        check_cfg('SE', 'act_cfg', act_cfg)
        check_cfg('SE', 'gate_cfg', gate_cfg)
        hidden = in_channels // reduction
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(in_channels, hidden, 1)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Conv2d(hidden, in_channels, 1)
        self.gate = build_activation_layer(gate_cfg)

    def reset_parameters(self) -> None:
        self.fc1.reset_parameters()
        self.fc2.reset_parameters()

    def extract(self, x: Tensor) -> Tensor:
        """Squeeze z = GAP(x): (B, C, H, W) -> (B, C, 1, 1)."""
        return self.pool(x)

    def transform(self, context: Tensor) -> Tensor:
        """Excitation s = σ(W2 δ(W1 z)): (B, C, 1, 1) -> (B, C, 1, 1)."""
        return self.gate(self.fc2(self.act(self.fc1(context))))

    def dca_links(self) -> Tuple[ExciteLink]:
        """DCA connects the excitation (see :class:`ExciteLink`)."""
        return (ExciteLink(), )

