# Mask R-CNN with coordinate attention (r=32) in c3-c5, every BatchNorm of
# the backbone (the attention's included) SyncBN and trained
# (norm_eval=False), as in mmdet's gcnet syncbn configs.
_base_ = './mask-rcnn_r50-ca-c3-c5_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        plugins=[
            dict(
                cfg=dict(
                    type='CoordAttention',
                    reduction=32,
                    norm_cfg=dict(type='SyncBN', requires_grad=True)),
                stages=(False, True, True, True),
                position='after_conv3')
        ]))

# BatchNorm layers that attention modules build themselves (not from
# norm_cfg) become SyncBN too: mmengine's runner converts every BN of the
# model in distributed training (and reverts SyncBN to BN without it).
sync_bn = 'torch'
