# Faster R-CNN (R-50-FPN layout, 1x) with EMCA-SE-ResNet-50 (Bakr et
# al., IEEE Access 2022): EMCA with an SE excitation on the first
# block of every stage, its multi-scale aggregation reading the
# squeezed outputs of all blocks of the previous stage (the stem for
# stage 1). The EMCA layout needs the EMCA ImageNet checkpoint;
# frozen_stages=1 freezes stage 1 with its module.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='EMCAResNet',
        depth=50,
        excitation='SE',
        # the paper's reported setting: EMCA on the first block of each
        # stage, reading every block of the previous stage
        coverage='previous_stage_all',
        placement='first',
        # EMCA-ResNet: EMCA modules on the first block of each stage.
        # torchvision's ResNet-50 weights do not fit: start from the ImageNet
        # checkpoint of configs/emca/emca-se-resnet50_8xb32_in1k.py
        # (placeholder path; how to make it: configs/emca/README.md).
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/emca-se-resnet50_8xb32_in1k.pth')))
