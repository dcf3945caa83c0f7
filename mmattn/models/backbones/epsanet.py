"""EPSANet (Zhang, Zu, Lu, Zou and Meng, "EPSANet: An Efficient Pyramid
Squeeze Attention Block on Convolutional Neural Network", ACCV 2022;
arXiv:2105.14447)."""
from mmattn.models.utils import check_choice
from mmattn.registry import BACKBONE, register

from .attn_resnet import AttnBottleneck, AttnResNet


@register(BACKBONE)
class EPSANet(AttnResNet):
    """EPSANet: a ResNet whose every bottleneck 3×3 conv is a :class:`PSA`.

    The two variants of the paper's Table 1:

    * ``'small'``: ResNet bottleneck widths, PSA groups (1, 4, 8, 16).
      ImageNet parameters 22.56M (-50) / 38.90M (-101), as in the paper.
    * ``'large'``: bottleneck inner width doubled (1×1, 128 → PSA(G=32),
      128 → 1×1, 256 in stage 1, and so on), PSA groups (32, 32, 32, 32).
      Table 1 taken literally gives 30.10M (-50) / 53.74M (-101) against the
      paper's 27.90M / 49.59M; no published code reproduces the paper's
      numbers (they fit branch kernels whose squares sum to 108 rather than
      the stated (3, 5, 7, 9)'s 164).

    Everything else is :class:`AttnResNet` (and so mmdet's ``ResNet``):
    ``out_indices``, ``frozen_stages`` (freezing the PSA modules of the
    frozen stages), ``norm_eval``, ``style``, ``with_cp``, ``plugins``,
    ``init_cfg`` ... are passed through. Checkpoints of the authors' code
    convert with ``tools/model_converters/epsanet_to_mmattn.py``.

    Args:
        depth (int): 50 or 101.
        variant (str): ``'small'`` or ``'large'``. Default: ``'small'``.
        **kwargs: Further :class:`AttnResNet` arguments.
    """

    arch_settings = {
        50: (AttnBottleneck, (3, 4, 6, 3)),
        101: (AttnBottleneck, (3, 4, 23, 3)),
    }
    #: Per variant: PSA groups of the (3, 5, 7, 9) kernels, and the
    #: bottleneck inner width relative to ResNet's.
    variants = {
        'small': dict(groups=(1, 4, 8, 16), width_multiplier=1),
        'large': dict(groups=(32, 32, 32, 32), width_multiplier=2),
    }

    def __init__(self, depth: int, variant: str = 'small', **kwargs) -> None:
        check_choice('EPSANet', 'variant', variant, tuple(self.variants))
        for key in ('conv2_cfg', 'width_multiplier'):
            if key in kwargs:
                raise TypeError(
                    f'EPSANet: {key}={kwargs[key]!r} is invalid; '
                    f'variant={variant!r} sets it')
        setting = self.variants[variant]
        super().__init__(
            depth,
            conv2_cfg=dict(type='PSA', groups=setting['groups']),
            width_multiplier=setting['width_multiplier'],
            **kwargs)
