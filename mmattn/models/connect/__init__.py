"""Connected attention: modules that read state from preceding blocks."""
from .dca import DCA
from .emca import EMCA

__all__ = ['DCA', 'EMCA']
