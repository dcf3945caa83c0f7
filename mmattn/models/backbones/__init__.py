"""Backbones carrying attention, for MMDetection and MMPretrain."""
from .attn_resnet import AttnBasicBlock, AttnBottleneck, AttnResNet
from .dca_resnet import DCAResNet
from .dmsanet import DMSANet
from .emca_resnet import EMCAResNet
from .epsanet import EPSANet

__all__ = ['AttnBasicBlock', 'AttnBottleneck', 'AttnResNet', 'DCAResNet',
           'DMSANet', 'EMCAResNet', 'EPSANet']
