# Mask R-CNN on the embedded shapes dataset, trained from scratch on CPU with
# the demo's ResNet-18 + EMA in c3-c5 (configs/_base_/backbones/
# r18-ema-c3-c5.py) and evaluated with COCO's bbox and segm metrics
# (`python tools/run_demo.py configs/demo/<this file>`). mmdet's R-50
# Mask R-CNN cut down for 128x128 images on 2 CPU cores:
# * FPN of 128 channels over C3-C5 only (P3-P5): the shapes are 12-64 px,
#   and P2 held most of the FPN and RPN positions; RPN anchors of 16-64 px
#   (scale 2 at strides 8-32); RoIs pooled from P3 below 64 px
#   (finest_scale=32);
# * few proposals and sampled RoIs (a few shapes per image need neither
#   2000 proposals nor 512 RoIs): 32 per image, so at most 8 positive ones
#   reach the mask head; one sample per RoIAlign bin (mmcv's RoIAlign
#   backward is slow on CPU);
# * a box head of two 3x3 convs (64 channels, GroupNorm) and one FC, whose
#   classification loss weighs 3: the RoI classifier is the only class
#   supervision of a two-stage detector, and with weight 1 it still took
#   ellipses for rectangles and triangles for stars after 1000 iterations
#   (README, demo section);
# * a 2-conv mask head of 64 channels with GroupNorm;
# * batch 8, as the RetinaNet demo.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/demo_adamw_1000i.py',
    '../_base_/backbones/r18-ema-c3-c5.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

group_norm = dict(type='GN', num_groups=16, requires_grad=True)
roi_strides = [8, 16, 32]
model = dict(
    backbone={{_base_.backbone}},
    neck=dict(
        in_channels=[64, 128, 256, 512],
        out_channels=128,
        start_level=1,
        num_outs=3),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(scales=[2], strides=roi_strides)),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=1),
            out_channels=128,
            featmap_strides=roi_strides,
            finest_scale=32),
        bbox_head=dict(
            _delete_=True,
            type='ConvFCBBoxHead',
            num_shared_convs=2,
            num_shared_fcs=1,
            in_channels=128,
            conv_out_channels=64,
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes=4,
            norm_cfg=group_norm,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=3.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=1),
            out_channels=128,
            featmap_strides=roi_strides,
            finest_scale=32),
        mask_head=dict(
            num_convs=2,
            in_channels=128,
            conv_out_channels=64,
            norm_cfg=group_norm,
            num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=600, max_per_img=200),
        rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))
