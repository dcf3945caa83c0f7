# The demo (`make demo`): RetinaNet on the embedded shapes dataset, trained
# from scratch on CPU with a ResNet-18 carrying EMA in stages c3-c5
# (configs/_base_/backbones/r18-ema-c3-c5.py), evaluated with COCO's bbox
# metric. Sized for the data: FPN of 128 channels over C3-C5 only (P6/P7
# anchors of 256-812 px would never match a shape in a 128x128 image),
# anchors of 16-101 px (octave_base_scale=2) for boxes of 12-64 px, and
# GroupNorm in the head (with the norm-free head and mmdet's anchors the
# detector did not learn in this budget; see the README's demo section).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/demo_adamw_1000i.py',
    '../_base_/backbones/r18-ema-c3-c5.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone={{_base_.backbone}},
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128,
              num_outs=3),
    bbox_head=dict(
        num_classes=4,
        in_channels=128,
        feat_channels=128,
        stacked_convs=2,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        anchor_generator=dict(octave_base_scale=2, strides=[8, 16, 32])))

# RetinaNet needs no masks: load boxes only.
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale={{_base_.image_scale}}, keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale={{_base_.image_scale}}, keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor'))
    ]))
test_dataloader = val_dataloader
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator
