# RetinaNet with DCA-SE-ResNet-50 on the DCA paper's detection schedule
# (Ma et al., section 4.3 / Table 7): 24 epochs, batch 16 (8 GPUs x 2),
# lr 0.01 divided by 10 at epochs 18 and 22 (as the paper states; mmdet's
# 2x uses 16 and 22).
_base_ = './retinanet_r50-dca-se_fpn_1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[18, 22],
        gamma=0.1)
]
