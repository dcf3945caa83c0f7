# EPSANet-50 (Small) on ImageNet-1k.
# The paper's ImageNet recipe (Zhang et al., ACCV 2022, section 4.1):
# SGD (momentum 0.9, weight decay 1e-4), batch 256 (8 GPUs x 32), lr 0.1
# divided by 10 every 30 epochs, 120 epochs, label smoothing 0.1,
# 224x224 random crops with horizontal flips (mmpretrain's standard
# ImageNet pipeline).
_base_ = ['../_base_/imagenet_resnet50_from_scratch.py']

model = dict(
    backbone=dict(
        type='EPSANet',
        depth=50,
        variant='small'),
    head=dict(
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1,
            loss_weight=1.0)))

param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=1)
