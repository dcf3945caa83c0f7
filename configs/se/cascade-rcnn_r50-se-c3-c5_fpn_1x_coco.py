# Cascade R-CNN (R-50-FPN, 1x) with SE (r=16) after conv3 (after bn3, before
# the residual add) of every bottleneck in stages c3-c5 of the
# ImageNet-pretrained ResNet-50: the attention starts from its own init, the
# rest of the backbone from torchvision's weights. layer1 is frozen by the
# base config, so it carries no attention.
_base_ = [
    'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
    '../_base_/backbones/r50-se-c3-c5.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
