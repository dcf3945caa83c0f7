# The backbone of every configs/coord_attention/*_r50-ca-c3-c5_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    plugins=[
        dict(
            cfg=dict(type='CoordAttention', reduction=32),
            stages=(False, True, True, True),
            position='after_conv3')
    ])
