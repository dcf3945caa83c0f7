# Mask R-CNN with SK-ResNet-50, every BatchNorm of the backbone (the SK
# units' included) SyncBN and trained (norm_eval=False).
_base_ = './mask-rcnn_r50-sk_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        conv2_cfg=dict(norm_cfg=dict(type='SyncBN', requires_grad=True))))

# BatchNorm layers that attention modules build themselves (not from
# norm_cfg) become SyncBN too: mmengine's runner converts every BN of the
# model in distributed training (and reverts SyncBN to BN without it).
sync_bn = 'torch'
