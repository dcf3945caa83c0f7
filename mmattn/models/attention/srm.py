"""Style-based Recalibration Module (Lee et al., "SRM: A Style-based
Recalibration Module for Convolutional Neural Networks", ICCV 2019)."""
import torch
from mmengine.model import constant_init
from torch import Tensor, nn

from mmattn.models.attention.base import ChannelGate
from mmattn.models.utils import batch_norm_any_size, check_real
from mmattn.registry import PLUGIN, register


#: Added to the variance before the square root.
DEFAULT_EPS = 1e-5


@register(PLUGIN)
class SRM(ChannelGate):
    """Style-based Recalibration Module.

    Style pooling (paper eqs. 1-3): per channel the mean μ_c and standard
    deviation σ_c over H×W, ``t_c = [μ_c, σ_c]``. Style integration (eqs.
    4-6): a channel-wise fully connected layer ``z_c = w_c · t_c`` (two
    weights per channel, no bias), BatchNorm and a sigmoid,
    ``g = σ(BN(z))``; output ``x · g``. A module has ``2C + 2C`` parameters
    (CFC weights plus BN affine).

    The standard deviation is the population one with an epsilon,
    ``σ_c = sqrt(Var_HW(x_c) + eps)``, so that it is finite and
    differentiable on 1×1 maps; the authors' code uses the unbiased
    ``Tensor.std``, which is NaN for a single position.

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), as in the authors' SRM-ResNets.

    The two steps are separate methods, :meth:`extract` (style pooling) and
    :meth:`transform` (style integration, the gate), so that EMCA can use
    SRM as its excitation.

    Args:
        in_channels (int): Channels C of the input.
        eps (float): Added to the variance before the square root, in
            (0, 1]. Default: 1e-5.
        init_cfg (dict, optional): mmengine init config. By default the CFC
            weights start at zero and BN at weight 1, bias 0, as in the
            authors' code (the gate starts at 0.5); :meth:`init_weights`
            re-applies this after a backbone's own init.
    """

    _abbr_ = 'srm'

    def __init__(self,
                 in_channels: int,
                 eps: float = DEFAULT_EPS,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        # A small constant: one above 1 would outweigh the variance it
        # stabilises (and inf makes every output NaN).
        check_real('SRM', 'eps', eps, 0, 1)
        self.eps = eps
        # Grouped so that each channel sees only its own (mean, std) pair.
        self.cfc = nn.Conv1d(
            in_channels, in_channels, 2, groups=in_channels, bias=False)
        self.bn = nn.BatchNorm2d(in_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        constant_init(self.cfc, 0)
        constant_init(self.bn, 1, bias=0)

    def extract(self, x: Tensor) -> Tensor:
        """Style pooling: (B, C, H, W) -> (B, C, 2) holding [mean, std]."""
        return style_pool(x, self.eps)

    def transform(self, style: Tensor) -> Tensor:
        """Style integration, the gate σ(BN(CFC(t))): (B, C, 2) ->
        (B, C, 1, 1)."""
        z = self.cfc(style).unsqueeze(3)
        return batch_norm_any_size(self.bn, z).sigmoid()


def style_pool(x: Tensor, eps: float) -> Tensor:
    """SRM's style pooling: (B, C, H, W) -> (B, C, 2) holding the mean and
    ``sqrt(Var + eps)`` of each channel over H×W."""
    # Two passes (mean, then the norm of the deviations) are several times
    # faster on CPU than torch.var_mean's one-pass Welford reduction over
    # H×W, and as stable.
    mean = x.mean((2, 3), keepdim=True)
    var = torch.linalg.vector_norm(x - mean, dim=(2, 3)).square() / (
        x.shape[2] * x.shape[3])
    return torch.stack((mean.flatten(1), (var + eps).sqrt()), dim=2)
