# EMCA-SE-ResNet-50 on ImageNet-1k: EMCA (SE excitation) on the first
# block of every stage, coverage = all blocks of the previous stage
# (the paper's reported setting).
# The EMCA paper's ImageNet recipe (section IV-B): SGD, momentum 0.9,
# weight decay 1e-4, batch 256 (8 GPUs x 32), lr 0.1 divided by 10 every
# 30 epochs, 100 epochs, 224x224 random crops with flips.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='EMCAResNet',
        depth=50,
        excitation='SE',
        coverage='previous_stage_all',
        placement='first',
        out_indices=(3, ),
        # mmdet's ResNet (which mmattn's backbones extend) defaults to
        # norm_eval=True for fine-tuning; training from scratch needs BN in
        # train mode.
        norm_eval=False))
