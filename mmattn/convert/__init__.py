"""Converters from authors' checkpoint layouts to mmattn's state-dict keys."""
from .dcanet import convert_dcanet_state_dict
from .epsanet import convert_epsanet_state_dict
from .gcnet import convert_mmdet_gcnet_state_dict

__all__ = ['convert_dcanet_state_dict', 'convert_epsanet_state_dict',
           'convert_mmdet_gcnet_state_dict']
