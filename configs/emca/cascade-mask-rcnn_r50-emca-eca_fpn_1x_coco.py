# Cascade Mask R-CNN with EMCA-ECA-ResNet-50; otherwise as the EMCA-SE config
# it inherits.
_base_ = './cascade-mask-rcnn_r50-emca-se_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        excitation='ECA',
        init_cfg=dict(
            checkpoint='checkpoints/emca-eca-resnet50_8xb32_in1k.pth')))
