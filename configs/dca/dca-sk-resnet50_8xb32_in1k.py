# DCA-SK-ResNet-50: SK (2 branches, groups 1, L=1) replaces every bottleneck
# 3x3 conv, without bn2 (1-FC matching; the paper's 37.48M model).
# The recipe of the DCA-SE config it inherits.
_base_ = './dca-se-resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        attention=dict(_delete_=True, type='SK'),
        channel_matching='1fc'))
