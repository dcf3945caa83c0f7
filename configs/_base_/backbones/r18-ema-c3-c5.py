# The backbone of the configs/demo detectors: a ResNet-18 trained from
# scratch (no init_cfg, nothing frozen, BN in train mode) whose BasicBlocks
# in stages c3-c5 carry EMA (factor 32) after conv2, i.e. after bn2 and
# before the residual add. mmdet's BasicBlock takes no plugins, so the
# backbone is AttnResNet. Used as model.backbone={{_base_.backbone}}.
backbone = dict(
    type='AttnResNet',
    depth=18,
    frozen_stages=-1,
    norm_eval=False,
    init_cfg=None,
    plugins=[
        dict(
            cfg=dict(type='EMA', factor=32),
            stages=(False, True, True, True),
            position='after_conv2')
    ])
