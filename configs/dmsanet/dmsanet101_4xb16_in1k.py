# DMSANet-101 on ImageNet-1k, the recipe of the -50 config it
# inherits.
_base_ = './dmsanet50_4xb16_in1k.py'

model = dict(
    backbone=dict(
        depth=101))
