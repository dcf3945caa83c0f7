# DCA-SE-ResNet-50 with 1-FC channel matching (the paper's Table 1 model,
# 30.90M).
# The recipe of the DCA-SE config it inherits.
_base_ = './dca-se-resnet50_8xb32_in1k.py'

model = dict(
    backbone=dict(
        channel_matching='1fc'))
