# DMSANet-50 on ImageNet-1k.
# The paper's ImageNet recipe (Sagar, 2021, section 4.1): SGD with
# momentum 0.9, mini-batch 64, lr 0.1 divided by 10 every 20 epochs, 50
# epochs, 224x224 crops. The paper also prints "learning rate of 1e-4",
# read here as the weight decay (1e-4, as in the detection recipe).
_base_ = ['../_base_/imagenet_resnet50_from_scratch.py']

model = dict(
    backbone=dict(
        type='DMSANet',
        depth=50))

train_dataloader = dict(batch_size=16)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[20, 40], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=1)
auto_scale_lr = dict(base_batch_size=64)
