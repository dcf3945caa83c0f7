# The backbone of every configs/emca/*_r50-emca-se_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    type='EMCAResNet',
    depth=50,
    excitation='SE',
    # the paper's reported setting: EMCA on the first block of each
    # stage, reading every block of the previous stage
    coverage='previous_stage_all',
    placement='first',
    # EMCA-ResNet: EMCA modules on the first block of each stage.
    # torchvision's ResNet-50 weights do not fit: start from the ImageNet
    # checkpoint of configs/emca/emca-se-resnet50_8xb32_in1k.py
    # (placeholder path; how to make it: configs/emca/README.md).
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='checkpoints/emca-se-resnet50_8xb32_in1k.pth'))
