"""Converters from authors' checkpoint layouts to mmattn's state-dict keys."""
from .epsanet import convert_epsanet_state_dict

__all__ = ['convert_epsanet_state_dict']
