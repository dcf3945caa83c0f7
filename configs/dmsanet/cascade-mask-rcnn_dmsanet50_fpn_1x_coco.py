# Cascade Mask R-CNN (R-50-FPN layout, 1x) with DMSANet-50 as backbone: each
# bottleneck 3x3 conv replaced by a DMSA module (Sagar, 2021, Table
# 1; mmattn's reading of the paper, see configs/dmsanet/README.md).
_base_ = 'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='DMSANet',
        depth=50,
        # DMSANet: every bottleneck 3x3 conv is a DMSA module.
        # torchvision's ResNet-50 weights do not fit: start from the ImageNet
        # checkpoint of configs/dmsanet/dmsanet50_4xb16_in1k.py
        # (placeholder path; how to make it: configs/dmsanet/README.md).
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/dmsanet50_4xb16_in1k.pth')))
