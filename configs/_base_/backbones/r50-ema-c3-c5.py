# The backbone of every configs/ema/*_r50-ema-c3-c5_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    plugins=[
        dict(
            cfg=dict(type='EMA', factor=32),
            stages=(False, True, True, True),
            position='after_conv3')
    ])
