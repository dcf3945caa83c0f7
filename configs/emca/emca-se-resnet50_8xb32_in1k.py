# EMCA-SE-ResNet-50 on ImageNet-1k: EMCA (SE excitation) on the first
# block of every stage, coverage = all blocks of the previous stage
# (the paper's reported setting).
# The EMCA paper's ImageNet recipe (section IV-B): SGD, momentum 0.9,
# weight decay 1e-4, batch 256 (8 GPUs x 32), lr 0.1 divided by 10 every
# 30 epochs, 100 epochs, 224x224 random crops with flips.
_base_ = ['../_base_/imagenet_resnet50_from_scratch.py']

model = dict(
    backbone=dict(
        type='EMCAResNet',
        depth=50,
        excitation='SE',
        coverage='previous_stage_all',
        placement='first'))
