# ResNet-50 with EMA (factor 32) after conv3 of every bottleneck, on
# ImageNet-1k. The EMA paper trains on CIFAR-100 only (see
# ema-resnet50_8xb16_cifar100.py): this uses mmpretrain's ResNet-50
# recipe (SGD, batch 256, lr 0.1 divided by 10 at epochs 30/60/90, 100
# epochs).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='AttnResNet',
        depth=50,
        out_indices=(3, ),
        # mmdet's ResNet (which mmattn's backbones extend) defaults to
        # norm_eval=True for fine-tuning; training from scratch needs BN in
        # train mode.
        norm_eval=False,
        plugins=[
            dict(cfg=dict(type='EMA', factor=32), position='after_conv3')
        ]))
