# Cascade R-CNN with EPSANet-50 (Large): bottleneck inner width doubled,
# PSA groups (32, 32, 32, 32) (paper Table 1); otherwise as the
# Small config it inherits.
_base_ = './cascade-rcnn_epsanet50-s_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        variant='large',
        init_cfg=dict(
            checkpoint='checkpoints/epsanet50-l_8xb32_in1k.pth')))
