"""Connected attention: modules that read state from preceding blocks."""
from .base import AttentionState, ConnectedAttention
from .dca import DCA
from .emca import EMCA, EMCASqueeze

__all__ = ['AttentionState', 'ConnectedAttention', 'DCA', 'EMCA',
           'EMCASqueeze']
