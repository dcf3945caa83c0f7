"""DCA-ResNet (Ma, Guo, Tang, Qiao, Chen, Yang and Fu, "DCANet: Learning
Connected Attentions for Convolutional Neural Networks", arXiv:2007.05099).
"""
from typing import Optional

from mmattn.models.connect import DCA
from mmattn.registry import (BACKBONE, CONV_REPLACEMENT, MODELS, list_models,
                             register, unknown_type_error)

from .attn_resnet import AttnResNet

#: The DCA paper's variants of attention modules whose mmattn defaults
#: differ: its SK-ResNet-50 has ungrouped branch convs and d = C/16.
PAPER_VARIANTS = {'SK': dict(groups=1, min_channels=1)}


@register(BACKBONE)
class DCAResNet(AttnResNet):
    """ResNet whose every block carries a connected attention
    (:class:`mmattn.models.connect.DCA`).

    The attention of each block reads the state its predecessor left, across
    stage boundaries; the first block of the network has none and runs the
    plain attention. Plugins (SE, GatherExcite, GC, CBAM) run on each
    block's residual branch output (after bn3, or bn2 of a BasicBlock), as
    in the paper; SK replaces each bottleneck's 3×3 conv and, as in the
    authors' SK-ResNet, its output goes into conv3 without bn2
    (``conv2_norm=False``). Matching layers exist only where the channels
    change, at the first block of stages 2-4.

    ImageNet parameters (ResNet-50, 1000 classes) against the paper:

    ============  ======  ===========  ==========================
    attention     paper   ours         matching
    ============  ======  ===========  ==========================
    SE            28.65M  28,645,285   '2fc' (default)
    SE            30.90M  30,881,029   '1fc'
    CBAM          30.90M  30,882,704   '1fc'
    GC            28.63M  28,625,399   '2fc'
    SK            37.48M  37,482,458   '1fc'
    GatherExcite  26.12M  26,114,293   '2fc'
    ============  ======  ===========  ==========================

    The '1fc' SE and CBAM counts are 17,667 / 17,672 below the authors'
    models, which also build matching (64 → 256) and connection layers in
    the network's first block although it never receives a state; those
    are unused parameters, which DDP rejects, so they are not built here.

    Everything else is :class:`AttnResNet` (and so mmdet's ``ResNet``):
    ``out_indices``, ``frozen_stages`` (freezing the DCA layers of the
    frozen stages), ``norm_eval`` (which also keeps the BN of DCA-CBAM's
    spatial connection and SK's norms in eval mode), ``style``, ``with_cp``,
    ``init_cfg`` ... are passed through.

    Args:
        depth (int): 18, 34, 50, 101 or 152 (SK: 50 and deeper).
        attention (dict): Config of the attention: type 'SE',
            'GatherExcite', 'GC', 'CBAM' or 'SK' and its arguments
            (``in_channels`` and, for SK, the conv arguments are filled in).
            SK defaults to the DCA paper's variant (``groups=1,
            min_channels=1``). Default: ``dict(type='SE')``.
        connection (str): 'direct', 'weighted' or 'softmax'.
            Default: 'direct'.
        channel_matching (str): '1fc' or '2fc'. Default: '2fc'.
        matching_reduction (int): r of the '2fc' matching. Default: 16.
        **kwargs: Further :class:`AttnResNet` arguments.
    """

    def __init__(self,
                 depth: int,
                 attention: Optional[dict] = None,
                 connection: str = 'direct',
                 channel_matching: str = '2fc',
                 matching_reduction: int = 16,
                 **kwargs) -> None:
        attention = dict(attention or dict(type='SE'))
        name = attention.get('type')
        attention_cls = MODELS.get(name) if isinstance(name, str) else None
        if attention_cls is None:
            raise unknown_type_error(str(name), MODELS)
        replaces_conv = attention_cls.__name__ in list_models(CONV_REPLACEMENT)
        if replaces_conv:
            if kwargs.get('conv2_cfg') is not None:
                raise ValueError(
                    f"DCAResNet: conv2_cfg={kwargs['conv2_cfg']!r} is "
                    f'invalid with attention={attention!r}, which is the '
                    'conv replacement already')
            attention = {
                **PAPER_VARIANTS.get(attention_cls.__name__, {}),
                **attention
            }
            kwargs['conv2_cfg'] = attention
            kwargs.setdefault('conv2_norm', False)
        super().__init__(depth, **kwargs)
        dca_args = dict(connection=connection,
                        channel_matching=channel_matching,
                        reduction=matching_reduction)
        previous = None
        for stage, layer_name in enumerate(self.res_layers):
            for block in getattr(self, layer_name):
                if replaces_conv:
                    channels = block.conv3.in_channels
                    block.conv2 = DCA(block.conv2, channels, previous,
                                      **dca_args)
                else:
                    channels = (self.base_channels * 2**stage *
                                self.block.expansion)
                    module = MODELS.build(
                        attention, default_args=dict(in_channels=channels))
                    block.connected = DCA(module, channels, previous,
                                          **dca_args)
                previous = channels
        # mmdet's ResNet froze its stages before the modules above existed.
        self._freeze_stages()

    def initial_state(self, stem_out) -> dict:
        # An empty state: blocks thread it, the first one finds nothing.
        return {}
