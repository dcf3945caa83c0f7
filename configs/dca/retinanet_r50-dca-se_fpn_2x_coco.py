# RetinaNet with DCA-SE-ResNet-50 on the DCA paper's detection schedule
# (Ma et al., section 4.3 / Table 7): 24 epochs, batch 16 (8 GPUs x 2),
# lr 0.01 divided by 10 at epochs 18 and 22 (as the paper states; mmdet's
# 2x uses 16 and 22).
_base_ = [
    './retinanet_r50-dca-se_fpn_1x_coco.py', '../_base_/schedules/dca_2x.py'
]

train_cfg = {{_base_.dca_2x_train_cfg}}
param_scheduler = {{_base_.dca_2x_param_scheduler}}
