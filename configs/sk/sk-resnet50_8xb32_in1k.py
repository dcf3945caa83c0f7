# SK-ResNet-50 on ImageNet-1k, the baseline of the DCA paper (Table 1,
# 37.12M): ResNet-50 with every bottleneck 3x3 conv an SK unit (2
# branches, groups 1, L=1, no bn2), trained with the DCA recipe: SGD with
# Nesterov momentum 0.9, weight decay 1e-4, batch 256, lr 0.1 divided by
# 10 every 30 epochs, 100 epochs.
_base_ = ['../_base_/imagenet_resnet50_from_scratch.py']

model = dict(
    backbone=dict(
        type='AttnResNet',
        depth=50,
        conv2_cfg=dict(type='SK', groups=1, min_channels=1),
        conv2_norm=False))

optim_wrapper = dict(optimizer=dict(nesterov=True))
