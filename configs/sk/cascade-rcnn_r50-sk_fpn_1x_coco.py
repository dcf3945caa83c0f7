# Cascade R-CNN (R-50-FPN layout, 1x) with SK-ResNet-50: every bottleneck
# 3x3 conv replaced by a selective-kernel unit (Li et al., CVPR
# 2019). SK units contain BatchNorm, kept in eval mode by the base
# config's norm_eval=True; the mask-rcnn_r50-syncbn-sk config trains
# their statistics.
_base_ = [
    'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
    '../_base_/backbones/r50-sk.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
