# The backbone of every configs/sk/*_r50-sk_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    type='AttnResNet',
    depth=50,
    # SK-ResNet-50 as re-implemented by the DCA paper (37.12M on
    # ImageNet): 2 branches, groups 1, L=1; the selected features go
    # straight into conv3 (no bn2).
    conv2_cfg=dict(type='SK', groups=1, min_channels=1),
    conv2_norm=False,
    # SK-ResNet: every bottleneck 3x3 conv is an SK unit.
    # torchvision's ResNet-50 weights do not fit: start from the ImageNet
    # checkpoint of configs/sk/sk-resnet50_8xb32_in1k.py
    # (placeholder path; how to make it: configs/sk/README.md).
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='checkpoints/sk-resnet50_8xb32_in1k.pth'))
