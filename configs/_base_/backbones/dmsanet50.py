# The backbone of every configs/dmsanet/*_dmsanet50_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    type='DMSANet',
    depth=50,
    # DMSANet: every bottleneck 3x3 conv is a DMSA module.
    # torchvision's ResNet-50 weights do not fit: start from the ImageNet
    # checkpoint of configs/dmsanet/dmsanet50_4xb16_in1k.py
    # (placeholder path; how to make it: configs/dmsanet/README.md).
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='checkpoints/dmsanet50_4xb16_in1k.pth'))
