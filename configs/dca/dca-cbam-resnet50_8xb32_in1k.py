# DCA-CBAM-ResNet-50 (1-FC matching; the paper's 30.90M model).
# The recipe of the DCA-SE config it inherits.
_base_ = './dca-se-resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        attention=dict(_delete_=True, type='CBAM'),
        channel_matching='1fc'))
