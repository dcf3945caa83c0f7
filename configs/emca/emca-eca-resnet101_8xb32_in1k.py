# EMCA-ECA-ResNet-101 on ImageNet-1k: the EMCA-SE
# config it inherits with the ECA excitation.
_base_ = './emca-se-resnet101_8xb32_in1k.py'

model = dict(
    backbone=dict(
        excitation='ECA'))
