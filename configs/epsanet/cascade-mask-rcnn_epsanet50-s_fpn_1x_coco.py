# Cascade Mask R-CNN (R-50-FPN layout, 1x) with EPSANet-50 (Small) as
# backbone: each bottleneck 3x3 conv replaced by a PSA module,
# kernels (3, 5, 7, 9), groups (1, 4, 8, 16) (Zhang et al., ACCV
# 2022, Table 1). Only model.backbone differs from mmdet's config.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/backbones/epsanet50-s.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
