# EPSANet-101 (Small) on ImageNet-1k, the recipe of the -50
# config it inherits.
_base_ = './epsanet50-s_8xb32_in1k.py'

model = dict(
    backbone=dict(
        depth=101))
