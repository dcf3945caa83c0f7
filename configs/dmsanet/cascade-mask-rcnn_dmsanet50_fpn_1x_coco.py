# Cascade Mask R-CNN (R-50-FPN layout, 1x) with DMSANet-50 as backbone: each
# bottleneck 3x3 conv replaced by a DMSA module (Sagar, 2021, Table
# 1; mmattn's reading of the paper, see configs/dmsanet/README.md).
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/backbones/dmsanet50.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
