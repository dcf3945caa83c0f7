"""Normalization-based Attention Module, channel attention (Liu et al.,
"NAM: Normalization-based Attention Module", arXiv:2111.12419, 2021)."""
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import batch_norm_any_size
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class NAM(AttentionModule):
    """NAM channel attention.

    The BatchNorm scaling factors γ measure how much each channel varies, so
    they serve as channel importance: ``w_i = |γ_i| / Σ_j |γ_j|`` and
    ``M_c = σ(w · BN(x))`` (paper eq. 2 and Fig. 1), output ``x · M_c``. The
    weights multiply the whole BN output (γ·x̂ + β), and ``|γ|`` enters them
    detached, both as in the authors' code. A module has ``2C`` parameters
    (the BN affine).

    The paper also adds an L1 penalty on γ to the training loss and
    describes a pixel-wise variant; the penalty belongs to the loss, and the
    authors' released spatial code requires a fixed input size, so only the
    channel attention (what their ResNet experiments use) is provided.

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), as in the authors' NAM-ResNets.

    Args:
        in_channels (int): Channels C of the input.
        init_cfg (dict, optional): mmengine init config. By default BN
            starts at weight 1, bias 0 (PyTorch's default, also the authors'
            init), re-applied in :meth:`init_weights`.
    """

    _abbr_ = 'nam'

    def __init__(self, in_channels: int, init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.bn = nn.BatchNorm2d(in_channels)

    def reset_parameters(self) -> None:
        self.bn.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        scale = self.bn.weight.detach().abs()
        weights = (scale / scale.sum()).reshape(1, -1, 1, 1)
        # The BN output is a new tensor that its backward does not need:
        # weight and gate it in place, one full-size tensor instead of three.
        gate = batch_norm_any_size(self.bn, x).mul_(weights).sigmoid_()
        return x * gate
