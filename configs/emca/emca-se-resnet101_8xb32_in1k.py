# EMCA-SE-ResNet-101 on ImageNet-1k (recipe of the -50 config).
_base_ = './emca-se-resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        depth=101))
