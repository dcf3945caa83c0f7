# EMCA-SRM-ResNet-34 on ImageNet-1k: the EMCA-SE
# config it inherits with the SRM excitation.
_base_ = './emca-se-resnet34_8xb32_in1k.py'

model = dict(
    backbone=dict(
        excitation='SRM'))
