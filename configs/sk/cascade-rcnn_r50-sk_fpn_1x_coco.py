# Cascade R-CNN (R-50-FPN layout, 1x) with SK-ResNet-50: every bottleneck
# 3x3 conv replaced by a selective-kernel unit (Li et al., CVPR
# 2019). SK units contain BatchNorm, kept in eval mode by the base
# config's norm_eval=True; the mask-rcnn_r50-syncbn-sk config trains
# their statistics.
_base_ = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='AttnResNet',
        depth=50,
        # SK-ResNet-50 as re-implemented by the DCA paper (37.12M on
        # ImageNet): 2 branches, groups 1, L=1; the selected features go
        # straight into conv3 (no bn2).
        conv2_cfg=dict(type='SK', groups=1, min_channels=1),
        conv2_norm=False,
        # SK-ResNet: every bottleneck 3x3 conv is an SK unit.
        # torchvision's ResNet-50 weights do not fit: start from the ImageNet
        # checkpoint of configs/sk/sk-resnet50_8xb32_in1k.py
        # (placeholder path; how to make it: configs/sk/README.md).
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='checkpoints/sk-resnet50_8xb32_in1k.pth')))
