# EMCA-SE-ResNet-18 (BasicBlocks) on ImageNet-1k (recipe of the -50
# config).
_base_ = './emca-se-resnet50_8xb32_in1k.py'

model = dict(backbone=dict(depth=18), head=dict(in_channels=512))
