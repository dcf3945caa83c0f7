# DCA-GC-ResNet-50 (2-FC matching; the paper's 28.63M model).
# The recipe of the DCA-SE config it inherits.
_base_ = './dca-se-resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        attention=dict(_delete_=True, type='GC'),
        channel_matching='2fc'))
