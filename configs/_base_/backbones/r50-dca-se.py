# The backbone of every configs/dca/*_r50-dca-se_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    type='DCAResNet',
    depth=50,
    attention=dict(type='SE'),
    connection='direct',
    # 2 FC (r=16) at stage changes: the paper's 28.65M variant
    channel_matching='2fc',
    # DCA-ResNet: every block carries a connected attention.
    # torchvision's ResNet-50 weights do not fit: start from the ImageNet
    # checkpoint of configs/dca/dca-se-resnet50_8xb32_in1k.py
    # (placeholder path; how to make it: configs/dca/README.md).
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='checkpoints/dca-se-resnet50_8xb32_in1k.pth'))
