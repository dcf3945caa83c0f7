# Cascade Mask R-CNN with DCA-GC-ResNet-50 (2-FC matching: the paper's
# 28.63M model). Otherwise as the DCA-SE config it inherits.
_base_ = './cascade-mask-rcnn_r50-dca-se_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        attention=dict(_delete_=True, type='GC'),
        channel_matching='2fc',
        init_cfg=dict(
            checkpoint='checkpoints/dca-gc-resnet50_8xb32_in1k.pth')))
