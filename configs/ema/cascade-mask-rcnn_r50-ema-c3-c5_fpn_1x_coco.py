# Cascade Mask R-CNN (R-50-FPN, 1x) with EMA (factor 32) after conv3 (after
# bn3, before the residual add) of every bottleneck in stages c3-c5
# of the ImageNet-pretrained ResNet-50 (torchvision weights; the EMA
# modules start from their own init). layer1 is frozen by the base
# config, so it carries no attention. EMA is norm-free apart from a
# GroupNorm, so norm_eval=True is harmless.
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/backbones/r50-ema-c3-c5.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
