# RetinaNet (R-50-FPN layout, 1x) with DCA-SE-ResNet-50: an SE module
# on every block's residual branch, connected to its predecessor's
# attention (direct connection), across stages (Ma et al.,
# arXiv:2007.05099). DCA needs the attention in every block, so the
# whole backbone (stage 1 included) comes from the DCA ImageNet
# checkpoint; frozen_stages=1 freezes stage 1 with its DCA layers.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/backbones/r50-dca-se.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
