# DCA-GE-ResNet-50: parameter-free Gather-Excite (GE-theta-minus), 2-FC
# matching.
# The recipe of the DCA-SE config it inherits.
_base_ = './dca-se-resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        attention=dict(_delete_=True, type='GatherExcite'),
        channel_matching='2fc'))
