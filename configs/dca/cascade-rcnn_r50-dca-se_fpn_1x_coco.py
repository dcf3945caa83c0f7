# Cascade R-CNN (R-50-FPN layout, 1x) with DCA-SE-ResNet-50: an SE module
# on every block's residual branch, connected to its predecessor's
# attention (direct connection), across stages (Ma et al.,
# arXiv:2007.05099). DCA needs the attention in every block, so the
# whole backbone (stage 1 included) comes from the DCA ImageNet
# checkpoint; frozen_stages=1 freezes stage 1 with its DCA layers.
_base_ = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='DCAResNet',
        depth=50,
        attention=dict(type='SE'),
        connection='direct',
        # 2 FC (r=16) at stage changes: the paper's 28.65M variant
        channel_matching='2fc',
        # DCA-ResNet: every block carries a connected attention.
        # torchvision's ResNet-50 weights do not fit: start from the ImageNet
        # checkpoint of configs/dca/dca-se-resnet50_8xb32_in1k.py
        # (placeholder path; how to make it: configs/dca/README.md).
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/dca-se-resnet50_8xb32_in1k.pth')))
