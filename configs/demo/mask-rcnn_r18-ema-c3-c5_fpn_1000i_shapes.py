# Mask R-CNN on the embedded shapes dataset, trained from scratch on CPU with
# the demo's ResNet-18 + EMA in c3-c5 (configs/_base_/backbones/
# r18-ema-c3-c5.py) and evaluated with COCO's bbox and segm metrics
# (`python tools/run_demo.py configs/demo/<this file>`). mmdet's R-50
# Mask R-CNN is cut down for 128x128 images on 2 CPU cores: 128-channel FPN
# and RoI heads, RPN anchors of 16-256 px (scale 4) for boxes of 12-64 px,
# box RoIs spread over P2-P4 by size (finest_scale=16; mmdet's 56 sends
# every RoI under 112 px, i.e. all of them here, to P2) while mask RoIs
# keep P2's resolution, far fewer proposals and sampled RoIs (a few shapes
# per image need neither 2000 proposals nor 512 RoIs), 2x2 samples per
# RoIAlign bin instead of the adaptive count (mmcv's RoIAlign backward is
# slow on CPU), a 2-conv mask head with GroupNorm, and batch 4.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/demo_adamw_1000i.py',
    '../_base_/backbones/r18-ema-c3-c5.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone={{_base_.backbone}},
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2),
            out_channels=128,
            finest_scale=16),
        bbox_head=dict(in_channels=128, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=128),
        mask_head=dict(
            num_convs=2,
            in_channels=128,
            conv_out_channels=128,
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
            num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=600, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))
train_dataloader = dict(batch_size=4)
