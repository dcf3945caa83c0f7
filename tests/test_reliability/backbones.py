"""Backbone configs shared by the reliability tests: one or more per
registered backbone family (``list_models(BACKBONE)``), cheap enough on CPU.
The ResNet-50 variants whose attention allows it are a quarter as wide
(``base_channels=16``: same blocks, modules and code paths, 1/16 of the
parameters); EPSANet and DMSANet keep their widths, which their PSA
groups need. ``test_backbone_list_covers_every_family`` (in
test_precision.py) fails when a new backbone class is registered without
an entry here."""
EMA_C3_C5 = [
    dict(cfg=dict(type='EMA'), stages=(False, True, True, True),
         position='after_conv3')
]

#: One config per family: DDP, SyncBN, bfloat16 and ONNX tests use these.
BACKBONES = {
    'AttnResNet-50-EMA': dict(type='AttnResNet', depth=50, base_channels=16,
                              plugins=EMA_C3_C5),
    'EPSANet-50-S': dict(type='EPSANet', depth=50, variant='small'),
    'DMSANet-50': dict(type='DMSANet', depth=50),
    'DCAResNet-50-SE': dict(type='DCAResNet', depth=50, base_channels=16,
                            attention=dict(type='SE')),
    'DCAResNet-18-CBAM': dict(type='DCAResNet', depth=18, base_channels=16,
                              attention=dict(type='CBAM')),
    'EMCAResNet-50-SE': dict(type='EMCAResNet', depth=50, base_channels=16,
                             excitation='SE'),
}

#: Further variants for the DDP test, where a layer built but unused in a
#: forward would show: every DCA attention kind and EMCA's widest options.
DDP_EXTRA = {
    'DCAResNet-18-GC': dict(type='DCAResNet', depth=18, base_channels=16,
                            attention=dict(type='GC')),
    'DCAResNet-18-GatherExcite': dict(
        type='DCAResNet', depth=18, base_channels=16,
        attention=dict(type='GatherExcite')),
    'DCAResNet-50-SK': dict(type='DCAResNet', depth=50, base_channels=16,
                            attention=dict(type='SK')),
    'EMCAResNet-18-SRM-authors-all': dict(
        type='EMCAResNet', depth=18, base_channels=16, excitation='SRM',
        refine='authors', coverage='every_stage_last', placement='all'),
}
