# The demo (`make demo`): RetinaNet whose ResNet-18, trained from scratch,
# carries EMA after conv2 of every BasicBlock in stages c3-c5 (AttnResNet
# gives BasicBlocks plugins), trained for 300 iterations on the embedded
# shapes dataset on CPU and evaluated with COCO's bbox metric.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/datasets/shapes_instance.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='AttnResNet',
        depth=18,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None,
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(False, True, True, True),
                position='after_conv2')
        ]),
    neck=dict(in_channels=[128, 256, 512], out_channels=128, start_level=0,
              num_outs=5),
    bbox_head=dict(num_classes=4, in_channels=128, feat_channels=128,
                   stacked_convs=2),
    data_preprocessor=dict(pad_size_divisor=32))

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor'))
    ]))
test_dataloader = val_dataloader
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters,
         eta_min=1e-4)
]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
