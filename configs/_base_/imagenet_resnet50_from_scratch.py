# What mmattn's ImageNet-1k classification configs start from: mmpretrain's
# ResNet-50 classifier (GAP neck, linear head), ImageNet pipeline (batch 32
# per GPU), schedule (SGD, batch 256, lr 0.1 divided by 10 at epochs
# 30/60/90, 100 epochs) and runtime. A config replaces the backbone's type
# and sets its paper's recipe on top.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmattn'], allow_failed_imports=False)

# mmdet's ResNet (which mmattn's backbones extend) defaults to
# norm_eval=True for fine-tuning; training from scratch needs BN in train
# mode.
model = dict(backbone=dict(norm_eval=False))
