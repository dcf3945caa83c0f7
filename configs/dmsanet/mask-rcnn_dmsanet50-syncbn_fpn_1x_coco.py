# Mask R-CNN with DMSANet-50 whose BatchNorm layers are SyncBN and
# trained (norm_eval=False), as in mmdet's syncbn configs. DMSA's
# default spatial norm is an instance norm, which norm_eval does not
# touch; this is the config to start from for the paper's BN variant
# (Table 8: dmsa_cfg=dict(norm='BN'), which needs a checkpoint trained
# with it).
_base_ = './mask-rcnn_dmsanet50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False))

# BatchNorm layers that attention modules build themselves (not from
# norm_cfg) become SyncBN too: mmengine's runner converts every BN of the
# model in distributed training (and reverts SyncBN to BN without it).
sync_bn = 'torch'
