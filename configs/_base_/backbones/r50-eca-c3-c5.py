# The backbone of every configs/eca/*_r50-eca-c3-c5_fpn_* detector
# config (a variable, not `model`: mmengine forbids two bases that both
# define `model`); they use it as model.backbone={{_base_.backbone}}.
backbone = dict(
    plugins=[
        dict(
            cfg=dict(type='ECA'),
            stages=(False, True, True, True),
            position='after_conv3')
    ])
