# The DCA paper's 24-epoch detection schedule (Ma et al., section 4.3 /
# Table 7): the 1x config's lr divided by 10 at epochs 18 and 22 (mmdet's 2x
# uses 16 and 22), after mmdet's 500-iteration linear warm-up. Variables,
# not train_cfg/param_scheduler, because a 2x config also inherits its 1x
# sibling, which defines those; it uses them as
# train_cfg = {{_base_.dca_2x_train_cfg}} and
# param_scheduler = {{_base_.dca_2x_param_scheduler}}.
dca_2x_max_epochs = 24
dca_2x_train_cfg = dict(max_epochs=dca_2x_max_epochs)
dca_2x_param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=dca_2x_max_epochs,
        by_epoch=True,
        milestones=[18, 22],
        gamma=0.1)
]
