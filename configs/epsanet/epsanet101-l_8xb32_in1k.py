# EPSANet-101 (Large) on ImageNet-1k.
_base_ = './epsanet101-s_8xb32_in1k.py'

model = dict(
    backbone=dict(
        variant='large'))
