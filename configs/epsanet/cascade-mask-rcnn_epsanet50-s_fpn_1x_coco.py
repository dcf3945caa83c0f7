# Cascade Mask R-CNN (R-50-FPN layout, 1x) with EPSANet-50 (Small) as
# backbone: each bottleneck 3x3 conv replaced by a PSA module,
# kernels (3, 5, 7, 9), groups (1, 4, 8, 16) (Zhang et al., ACCV
# 2022, Table 1). Only model.backbone differs from mmdet's config.
_base_ = 'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='EPSANet',
        depth=50,
        variant='small',
        # EPSANet: every bottleneck 3x3 conv is a PSA module.
        # torchvision's ResNet-50 weights do not fit: start from the ImageNet
        # checkpoint of configs/epsanet/epsanet50-s_8xb32_in1k.py
        # (placeholder path; how to make it: configs/epsanet/README.md).
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/epsanet50-s_8xb32_in1k.pth')))
