# The schedule of the configs/demo detectors, which train from scratch on
# the shapes dataset on CPU: 1000 iterations of AdamW (lr 2e-3, weight decay
# 0.05), 50 iterations of linear warm-up, constant lr to iteration 500, then
# cosine decay to 1% of it. With SGD (lr 0.01, the mmdet default for
# detectors fine-tuned from ImageNet weights) the RetinaNet demo reached
# about half the AP in this budget; see the README's demo section. It
# carries mmdet's default runtime too, with the logging and checkpoints of
# an iteration-based run (two bases may not both define default_hooks).
_base_ = ['mmdet::_base_/default_runtime.py']

max_iters = 1000
# The run length param_scheduler and the intervals below are written for:
# mmattn's tools rescale them when train_cfg.max_iters differs, also in a
# config that inherits this one and sets its own max_iters
# (mmattn.engine.schedule).
schedule_length = max_iters
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=max_iters // 2,
         end=max_iters, T_max=max_iters // 2, eta_min=2e-5)
]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
# A fixed seed (initialisation, data order, augmentation): a rerun on the
# same machine, with the same number of threads, repeats its numbers.
randomness = dict(seed=0)
