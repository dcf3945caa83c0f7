# A benchmark suite (tools/benchmark_suite.py, mmattn/suite/plan.py): the
# demo RetinaNet (configs/demo/), trained from scratch on the shapes
# dataset, with a plain ResNet-18 and with three attention modules in the
# BasicBlocks of c3-c5 (after conv2, before the residual add), 3 seeds
# each, the demo's 1000-iteration schedule. Run from the repository root
# once the shapes dataset exists (`make demo` or
# `python tools/misc/generate_shapes_dataset.py data/shapes`):
#   python tools/benchmark_suite.py configs/suites/shapes_r18_attention.py \
#       --work-dir work_dirs/suite_shapes_r18
detectors = dict(
    retinanet='../demo/retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py')


def _c3_c5(attention: dict) -> dict:
    """A backbone variant: ``attention`` after conv2 of the c3-c5 blocks."""
    return dict(plugins=[
        dict(cfg=attention, stages=(False, True, True, True),
             position='after_conv2')
    ])


backbones = dict(
    r18=dict(plugins=None),
    ema=_c3_c5(dict(type='EMA', factor=32)),
    se=_c3_c5(dict(type='SE', reduction=16)),
    cbam=_c3_c5(dict(type='CBAM')),
)
baseline = 'r18'
seeds = [0, 1, 2]
