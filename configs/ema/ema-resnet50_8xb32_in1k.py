# ResNet-50 with EMA (factor 32) after conv3 of every bottleneck, on
# ImageNet-1k. The EMA paper trains on CIFAR-100 only (see
# ema-resnet50_8xb16_cifar100.py): this uses mmpretrain's ResNet-50
# recipe (SGD, batch 256, lr 0.1 divided by 10 at epochs 30/60/90, 100
# epochs).
_base_ = ['../_base_/imagenet_resnet50_from_scratch.py']

model = dict(
    backbone=dict(
        type='AttnResNet',
        depth=50,
        plugins=[
            dict(cfg=dict(type='EMA', factor=32), position='after_conv3')
        ]))
