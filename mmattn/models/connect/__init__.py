"""Connected attention: modules that read state from preceding blocks."""
from .emca import EMCA

__all__ = ['EMCA']
