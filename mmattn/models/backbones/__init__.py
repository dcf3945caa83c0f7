"""Backbones carrying attention, for MMDetection and MMPretrain."""
from .attn_resnet import AttnBasicBlock, AttnBottleneck, AttnResNet
from .dmsanet import DMSANet
from .emca_resnet import EMCAResNet
from .epsanet import EPSANet

__all__ = ['AttnBasicBlock', 'AttnBottleneck', 'AttnResNet', 'DMSANet',
           'EMCAResNet', 'EPSANet']
