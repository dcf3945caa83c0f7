# Mask R-CNN with DCA-CBAM-ResNet-50 whose BatchNorm layers are SyncBN
# and trained (norm_eval=False): CBAM's spatial gate and DCA-CBAM's
# spatial connection contain BatchNorm, which the base config's
# norm_eval=True would keep at their ImageNet statistics.
_base_ = './mask-rcnn_r50-dca-cbam_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False))

# BatchNorm layers that attention modules build themselves (not from
# norm_cfg) become SyncBN too: mmengine's runner converts every BN of the
# model in distributed training (and reverts SyncBN to BN without it).
sync_bn = 'torch'
