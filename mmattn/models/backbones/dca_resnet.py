"""DCA-ResNet (Ma, Guo, Tang, Qiao, Chen, Yang and Fu, "DCANet: Learning
Connected Attentions for Convolutional Neural Networks", arXiv:2007.05099).
"""
from typing import List, Optional

from mmattn.models.connect import DCA
from mmattn.models.connect.dca import (CHANNEL_MATCHINGS, CONNECTIONS,
                                       connectable)
from mmattn.models.utils import (check_cfg, check_cfg_arguments,
                                 check_cfg_leaves_out, check_choice,
                                 check_positive_int)
from mmattn.registry import (BACKBONE, CONV_REPLACEMENT, MODELS,
                             list_models, register)

from .attn_resnet import AttnBottleneck, AttnResNet, BlockSite

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
        # Before anything reads depth (the conv-replacement check below).
        check_choice('DCAResNet', 'depth', depth, tuple(self.arch_settings))
        attention = dict(type='SE') if attention is None else attention
        check_cfg('DCAResNet', 'attention', attention)
        attention = dict(attention)
        attention_cls = MODELS.get(attention['type'])
        if not hasattr(attention_cls, 'dca_links'):
            raise ValueError(
                f'DCAResNet: attention={attention!r} is invalid; DCA '
                f'connects {tuple(connectable())}')
        name = attention_cls.__name__
        self._replaces_conv = name in list_models(CONV_REPLACEMENT)
        check_cfg_leaves_out(
            'DCAResNet', 'attention', attention,
            ('in_channels', 'out_channels', 'stride')
            if self._replaces_conv else ('in_channels', ))
        check_cfg_arguments('DCAResNet', 'attention', attention, attention_cls)
        check_choice('DCAResNet', 'connection', connection, CONNECTIONS)
        check_choice('DCAResNet', 'channel_matching', channel_matching,
                     CHANNEL_MATCHINGS)
        check_positive_int('DCAResNet', 'matching_reduction',
                           matching_reduction)
        if self._replaces_conv:
            if self.arch_settings.get(depth, (AttnBottleneck, ))[0] is not \
                    AttnBottleneck:
                raise ValueError(
                    f'DCAResNet: attention={attention!r} is invalid with '
                    f'depth={depth}; a conv replacement needs a Bottleneck '
                    'ResNet (depth 50, 101 or 152)')
            if kwargs.get('conv2_cfg') is not None:
                raise ValueError(
                    f"DCAResNet: conv2_cfg={kwargs['conv2_cfg']!r} is "
                    f'invalid with attention={attention!r}, which is the '
                    'conv replacement already')
            attention = {**PAPER_VARIANTS.get(name, {}), **attention}
            kwargs.setdefault('conv2_norm', False)
        self._attention = attention
        self._dca_args = dict(connection=connection,
                              channel_matching=channel_matching,
                              reduction=matching_reduction)
        self._previous_channels: Optional[int] = None
        super().__init__(depth, **kwargs)

    def connected_attention(self, site: BlockSite) -> List[DCA]:
        """Every block's attention in a DCA, connected to the previous
        block's (none before the first block of the network)."""
        if self._replaces_conv:
            channels = site.width
            module = MODELS.build(
                self._attention,
                default_args=dict(in_channels=channels, out_channels=channels,
                                  stride=site.conv2_stride))
        else:
            channels = site.channels
            module = MODELS.build(self._attention,
                                  default_args=dict(in_channels=channels))
        previous, self._previous_channels = self._previous_channels, channels
        return [DCA(module, channels, previous, **self._dca_args)]
