# Cascade Mask R-CNN with DCA-CBAM-ResNet-50 (channel and spatial attention
# both connected; 1-FC channel matching: the paper's 30.90M model).
# Otherwise as the DCA-SE config it inherits.
_base_ = './cascade-mask-rcnn_r50-dca-se_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        attention=dict(_delete_=True, type='CBAM'),
        channel_matching='1fc',
        init_cfg=dict(
            checkpoint='checkpoints/dca-cbam-resnet50_8xb32_in1k.pth')))
