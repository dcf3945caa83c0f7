# RetinaNet (R-50-FPN layout, 1x) with EMCA-SE-ResNet-50 (Bakr et
# al., IEEE Access 2022): EMCA with an SE excitation on the first
# block of every stage, its multi-scale aggregation reading the
# squeezed outputs of all blocks of the previous stage (the stem for
# stage 1). The EMCA layout needs the EMCA ImageNet checkpoint;
# frozen_stages=1 freezes stage 1 with its module.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/backbones/r50-emca-se.py'
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(backbone={{_base_.backbone}})
