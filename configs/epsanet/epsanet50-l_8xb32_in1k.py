# EPSANet-50 (Large) on ImageNet-1k, the recipe of the Small
# config it inherits.
_base_ = './epsanet50-s_8xb32_in1k.py'

model = dict(
    backbone=dict(
        variant='large'))
