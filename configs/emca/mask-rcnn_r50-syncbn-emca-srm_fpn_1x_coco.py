# Mask R-CNN with EMCA-SRM-ResNet-50 whose BatchNorm layers are SyncBN
# and trained (norm_eval=False): the SRM excitation contains a
# BatchNorm, which the base config's norm_eval=True would keep at its
# ImageNet statistics.
_base_ = './mask-rcnn_r50-emca-se_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        excitation='SRM',
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        init_cfg=dict(
            checkpoint='checkpoints/emca-srm-resnet50_8xb32_in1k.pth')))

# BatchNorm layers that attention modules build themselves (not from
# norm_cfg) become SyncBN too: mmengine's runner converts every BN of the
# model in distributed training (and reverts SyncBN to BN without it).
sync_bn = 'torch'
