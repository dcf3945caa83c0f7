"""Attention modules: shape-preserving plugins and 3×3-conv replacements.

One module per file; importing this package registers all of them.
"""
from .bam import BAM
from .cbam import CBAM
from .coord_attention import CoordAttention
from .da_channel_attention import DAChannelAttention
from .da_position_attention import DAPositionAttention
from .dmsa import DMSA
from .dmsa_unit import DMSAUnit
from .eca import ECA
from .ema import EMA
from .fca import MultiSpectralAttention
from .gather_excite import GatherExcite
from .gc import GC
from .nam import NAM
from .non_local import NonLocal
from .psa import PSA
from .se import SE
from .selective_kernel import SK
from .shuffle_attention import ShuffleAttention
from .srm import SRM
from .triplet_attention import TripletAttention

__all__ = [
    'BAM', 'CBAM', 'CoordAttention', 'DAChannelAttention',
    'DAPositionAttention', 'DMSA', 'DMSAUnit', 'ECA', 'EMA',
    'GatherExcite', 'GC', 'MultiSpectralAttention', 'NAM', 'NonLocal', 'PSA',
    'SE', 'SK',
    'SRM', 'ShuffleAttention', 'TripletAttention'
]
