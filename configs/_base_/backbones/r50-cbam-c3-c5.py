# The backbone of every configs/cbam/*_r50-cbam-c3-c5_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    plugins=[
        dict(
            cfg=dict(type='CBAM', reduction=16, spatial_kernel_size=7),
            stages=(False, True, True, True),
            position='after_conv3')
    ])
