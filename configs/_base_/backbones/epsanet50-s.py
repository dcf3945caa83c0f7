# The backbone of every configs/epsanet/*_epsanet50-s_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    type='EPSANet',
    depth=50,
    variant='small',
    # EPSANet: every bottleneck 3x3 conv is a PSA module.
    # torchvision's ResNet-50 weights do not fit: start from the ImageNet
    # checkpoint of configs/epsanet/epsanet50-s_8xb32_in1k.py
    # (placeholder path; how to make it: configs/epsanet/README.md).
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='checkpoints/epsanet50-s_8xb32_in1k.pth'))
