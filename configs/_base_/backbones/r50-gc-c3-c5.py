# The backbone of every configs/gc/*_r50-gc-c3-c5_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    plugins=[
        dict(
            cfg=dict(type='GC', ratio=1. / 16),
            stages=(False, True, True, True),
            position='after_conv3')
    ])
