"""DMSANet (Sagar, "DMSANet: Dual Multi Scale Attention Network",
arXiv:2106.08382, 2021)."""
from typing import Optional

from mmattn.models.attention import DMSA
from mmattn.models.utils import (check_cfg_arguments, check_cfg_leaves_out,
                                 check_dict)
from mmattn.registry import BACKBONE, register

from .attn_resnet import AttnBottleneck, AttnResNet


@register(BACKBONE)
class DMSANet(AttnResNet):
    """DMSANet: a ResNet whose every bottleneck 3×3 conv is a :class:`DMSA`
    (paper Table 1: ResNet widths, "DMSA" in place of the 3×3 conv).

    No public code exists; :class:`DMSA` is mmattn's reading of the paper.
    Its dual attention unit is shared by the scales and tiny, so DMSANet-50
    has 22.56M parameters (ImageNet head), a few thousand more than
    EPSANet-50 (Small), against the paper's 26.25M. The paper's extra
    3.69M (-50) and 3.39M (-101, 42.29M) cannot come from any per-block
    module, which would add more to the deeper network.

    Everything else is :class:`AttnResNet` (and so mmdet's ``ResNet``):
    ``out_indices``, ``frozen_stages`` (freezing the DMSA modules of the
    frozen stages), ``norm_eval``, ``with_cp``, ``init_cfg`` ... pass through.

    Args:
        depth (int): 50 or 101.
        dmsa_cfg (dict, optional): Extra :class:`DMSA` arguments, e.g.
            ``dict(norm='GN')`` for the paper's Table 8 variants or
            ``attn_groups``/``chunk_size``. Default: None (DMSA's defaults).
        **kwargs: Further :class:`AttnResNet` arguments.
    """

    arch_settings = {
        50: (AttnBottleneck, (3, 4, 6, 3)),
        101: (AttnBottleneck, (3, 4, 23, 3)),
    }

    def __init__(self, depth: int, dmsa_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if 'conv2_cfg' in kwargs:
            raise TypeError(
                f"DMSANet: conv2_cfg={kwargs['conv2_cfg']!r} is invalid; "
                "DMSANet's conv2 is DMSA, configured by dmsa_cfg")
        if dmsa_cfg is not None:
            check_dict('DMSANet', 'dmsa_cfg', dmsa_cfg)
            check_cfg_leaves_out('DMSANet', 'dmsa_cfg', dmsa_cfg,
                                 ('type', 'in_channels', 'out_channels',
                                  'stride'))
            check_cfg_arguments('DMSANet', 'dmsa_cfg', dmsa_cfg, DMSA)
        super().__init__(
            depth, conv2_cfg=dict(type='DMSA', **(dmsa_cfg or {})), **kwargs)
