# A RetinaNet small enough to train a few iterations on 64x64 images of the
# shapes dataset (mmattn.demo.generate_shapes_dataset) on CPU in seconds:
# the reliability tests (DDP, resume) use it. Stock RetinaNet with an
# AttnResNet-50 a quarter as wide as ResNet-50 (base_channels=16: the same
# bottlenecks, 1/16 of the parameters) carrying the EMA plugins of
# configs/ema (after conv3 in stages c3-c5), every stage trainable
# (frozen_stages=-1, norm_eval=False) so that DDP sees every parameter, a
# 64-channel FPN and one stacked head conv. No validation; tools/test.py
# evaluates on the val split.
# Set the data with --cfg-options train_dataloader.dataset.data_root=DIR/
# (for testing: test_dataloader.dataset.data_root=DIR/
# test_evaluator.ann_file=DIR/annotations/val.json).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    '../../../configs/_base_/backbones/r50-ema-c3-c5.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='AttnResNet',
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None,
        plugins={{_base_.backbone.plugins}}),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    bbox_head=dict(
        num_classes=4, in_channels=64, feat_channels=64, stacked_convs=1))

data_root = 'data/shapes/'
metainfo = dict(classes=('rectangle', 'ellipse', 'triangle', 'star'))
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='PackDetInputs')
        ]))
val_dataloader = val_evaluator = val_cfg = None
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                type='PackDetInputs',
                meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                           'scale_factor'))
        ]))
test_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/val.json',
    metric='bbox')
test_cfg = dict(type='TestLoop')

train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=1000,
        save_last=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
