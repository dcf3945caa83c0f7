# DCA-SE-ResNet-50 on ImageNet-1k, 2-FC channel matching (r=16; the
# paper's Table 4, 28.65M parameters).
# The DCA paper's ImageNet recipe (section 4): SGD with Nesterov
# momentum 0.9, weight decay 1e-4, batch 256 (8 GPUs x 32), lr 0.1
# divided by 10 every 30 epochs, 100 epochs, 224x224 crops.
_base_ = ['../_base_/imagenet_resnet50_from_scratch.py']

model = dict(
    backbone=dict(
        type='DCAResNet',
        depth=50,
        attention=dict(type='SE'),
        connection='direct',
        channel_matching='2fc'))

optim_wrapper = dict(optimizer=dict(nesterov=True))
