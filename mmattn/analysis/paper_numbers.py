"""Parameters and FLOPs the papers report, for the models mmattn implements.

Every row cites its paper (:data:`PAPERS`) and table.
``params`` are millions, ``gflops`` the papers' GFLOPs, which are
multiply-accumulates of convolutions and linear layers (one MAC = one FLOP:
ResNet-50 is 4.1 G). Detection rows are mmdet's ``get_flops`` of mmdet 2.x at
its default 1280×800 input (ResNet-50 Faster R-CNN 41.53 M / 207.07 G and
RetinaNet 37.74 M / 239.32 G are what that tool prints), whose parameter count
skips frozen parameters (stage 1 under ``frozen_stages=1``).

Rows of the papers' tables that mmattn cannot build are in :data:`SKIPPED`
with the reason.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

PAPERS = {
    'EPSANet': 'Zhang et al., "EPSANet: An Efficient Pyramid Squeeze '
               'Attention Block on Convolutional Neural Network", ACCV 2022 '
               '(arXiv:2105.14447)',
    'DMSANet': 'Sagar, "DMSANet: Dual Multi Scale Attention Network", '
               'arXiv:2106.08382',
    'DCANet': 'Ma et al., "DCANet: Learning Connected Attentions for '
              'Convolutional Neural Networks", arXiv:2007.05099',
    'EMA': 'Ouyang et al., "Efficient Multi-Scale Attention Module with '
           'Cross-Spatial Learning", ICASSP 2023',
    'EMCA': 'Bakr, El-Sallab and Rashwan, "EMCA: Efficient Multiscale '
            'Channel Attention Module", IEEE Access 10, 2022',
}

IMAGENET = (224, 224)
CIFAR = (32, 32)
#: mmdet 2.x get_flops default shape [1280, 800] (H, W as the tool reads it;
#: the same MACs as 800×1280, both being multiples of 32).
COCO = (1280, 800)


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper's complexity table.

    Attributes:
        paper (str): Key of :data:`PAPERS`.
        table (str): Table in the paper.
        label (str): The row's name in the paper.
        model (str): mmattn model spec (see
            :func:`mmattn.analysis.models.resolve`).
        params (float, optional): Paper's parameters, millions.
        gflops (float, optional): Paper's GFLOPs (multiply-accumulates).
        input_size (tuple): (H, W) of the paper's count.
        num_classes (int): Classifier head classes.
        cifar_stem (bool): CIFAR ResNet stem (3×3/1 conv, no max-pool).
        ours (str): Short label of ``model`` when it is a dict.
        note (str): What differs, where known.
        params_unit (float): What the paper's "M" parameters divide by.
    """
    paper: str
    table: str
    label: str
    model: str
    params: Optional[float]
    gflops: Optional[float]
    input_size: Tuple[int, int] = IMAGENET
    num_classes: int = 1000
    cifar_stem: bool = False
    ours: str = ''
    note: str = ''
    params_unit: float = 1e6

    @property
    def source(self) -> str:
        return f'{self.paper} {self.table}'

    @property
    def kind(self) -> str:
        return 'detector' if ':' in self.model else 'classifier'

    @property
    def short(self) -> str:
        return self.ours or self.model


def _rows(paper, table, entries, **common):
    """Rows of one table: (label, model, params, gflops[, extra fields])."""
    return [
        PaperRow(paper, table, label, model, params, gflops,
                 **{**common, **extra})
        for label, model, params, gflops, *more in entries
        for extra in (more[0] if more else {}, )
    ]


_GE_NOTE = ("mmattn's GatherExcite is the parameter-free GE-θ⁻; the "
            "paper's GE-ResNet50 has 0.5 M parameters of its own")
_EPSA_L = ('Table 1 literally (PSA(G=32) in doubled widths) gives more; '
           'see EPSANet docstring')
_DMSA = ('DMSA is mmattn\'s reading of the paper (no code); position '
         'attention MACs are in the matmul column')
_MASK = ('the counts these baseline rows copy from earlier papers evaluate '
         'the mask head\'s 2×2 deconv at its output resolution (+15.4 G); '
         'ours, like EPSANet\'s own Mask R-CNN rows, count its true MACs')
_EMCA2 = ('EMCA Table 2 counts parameters in units of 2^20 (ResNet-50: '
          '25,557,032 / 1024² = 24.37); ours are converted likewise')
_EMCA_FIRST = (_EMCA2 + '. "First": the module on the first block of each '
               'stage, as EMCAResNet places it; EMCA adds its R aggregation '
               'weights, our SE its biases, our SRM its BatchNorm')
_EMA = ('EMA after conv3 of every bottleneck. mmattn computes its 3×3 conv '
        'only as needed: contracted by the constant a1 into one output '
        'channel (9·Cg instead of 9·Cg² MACs per position, in the matmul '
        'column with the cross-spatial products); the full conv, as the '
        'paper defines the module, costs 9·C²/32 MACs per position of each '
        'block, 0.30 G in ResNet-50 at 32×32')

ROWS = [
    # EPSANet, Table 2: ImageNet, ResNet-50 / -101.
    *_rows('EPSANet', 'Table 2', [
        ('ResNet-50', 'r50', 25.56, 4.12),
        ('SENet-50', 'se-r50', 28.07, 4.13),
        ('CBAM-50', 'cbam-r50', 28.07, 4.14),
        ('GCNet-50', 'gc-r50', 28.11, 4.13),
        ('Triplet Attention-50', 'triplet-r50', 25.56, 4.17),
        ('ECANet-50', 'eca-r50', 25.56, 4.13),
        ('FcaNet-50', 'fca-r50', 28.07, 4.13),
        ('EPSANet-50 (Small)', 'epsanet50-s', 22.56, 3.62),
        ('EPSANet-50 (Large)', 'epsanet50-l', 27.90, 4.72,
         dict(note=_EPSA_L)),
        ('ResNet-101', 'r101', 44.55, 7.85),
        ('SENet-101', 'se-r101', 49.29, 7.86),
        ('CBAM-101', 'cbam-r101', 49.33, 7.88),
        ('SRM-101', 'srm-r101', 44.68, 7.95),
        ('ECANet-101', 'eca-r101', 44.55, 7.86),
        ('Triplet Attention-101', 'triplet-r101', 44.56, 7.95),
        ('EPSANet-101 (Small)', 'epsanet101-s', 38.90, 6.82),
        ('EPSANet-101 (Large)', 'epsanet101-l', 49.59, 8.97,
         dict(note=_EPSA_L)),
    ]),
    # EPSANet, Table 3: COCO val2017, R-50-FPN 1x.
    *_rows('EPSANet', 'Table 3', [
        ('Faster R-CNN ResNet-50', 'faster-rcnn:r50', 41.53, 207.07),
        ('Faster R-CNN SENet-50', 'faster-rcnn:se-r50', 44.02, 207.18),
        ('Faster R-CNN ECANet-50', 'faster-rcnn:eca-r50', 41.53, 207.18),
        ('Faster R-CNN SANet-50', 'faster-rcnn:sa-r50', 41.53, 207.35),
        ('Faster R-CNN FcaNet-50', 'faster-rcnn:fca-r50', 44.02, 215.63),
        ('Faster R-CNN EPSANet-50 (Small)', 'faster-rcnn:epsanet50-s',
         38.56, 197.07),
        ('Faster R-CNN EPSANet-50 (Large)', 'faster-rcnn:epsanet50-l',
         43.85, 219.64, dict(note=_EPSA_L)),
        ('Mask R-CNN ResNet-50', 'mask-rcnn:r50', 44.18, 275.58,
         dict(note=_MASK)),
        ('Mask R-CNN SENet-50', 'mask-rcnn:se-r50', 46.67, 275.69),
        ('Mask R-CNN GCNet-50', 'mask-rcnn:gc-r50', 46.90, 279.60),
        ('Mask R-CNN ECANet-50', 'mask-rcnn:eca-r50', 44.18, 275.69),
        ('Mask R-CNN SANet-50', 'mask-rcnn:sa-r50', 44.18, 275.86),
        ('Mask R-CNN FcaNet-50', 'mask-rcnn:fca-r50', 46.66, 261.93),
        ('Mask R-CNN EPSANet-50 (Small)', 'mask-rcnn:epsanet50-s', 41.20,
         248.53),
        ('Mask R-CNN EPSANet-50 (Large)', 'mask-rcnn:epsanet50-l', 46.50,
         271.10, dict(note=_EPSA_L)),
        ('RetinaNet ResNet-50', 'retinanet:r50', 37.74, 239.32),
        ('RetinaNet SENet-50', 'retinanet:se-r50', 40.25, 239.43),
        ('RetinaNet SANet-50', 'retinanet:sa-r50', 37.74, 239.60),
        ('RetinaNet EPSANet-50 (Small)', 'retinanet:epsanet50-s', 34.78,
         229.32),
        ('RetinaNet EPSANet-50 (Large)', 'retinanet:epsanet50-l', 40.07,
         251.89, dict(note=_EPSA_L)),
    ], input_size=COCO),
    # DMSANet, Tables 2-3 (ImageNet; its baselines copy EPSANet's Table 2).
    *_rows('DMSANet', 'Table 2', [
        ('ResNet', 'r50', 25.56, 4.12),
        ('SENet', 'se-r50', 28.07, 4.13),
        ('CBAM', 'cbam-r50', 28.07, 4.14),
        ('GCNet', 'gc-r50', 28.11, 4.13),
        ('ECANet', 'eca-r50', 25.56, 4.13),
        ('FcaNet', 'fca-r50', 28.07, 4.13),
        ('EPSANet (Small)', 'epsanet50-s', 22.56, 3.62),
        ('EPSANet (Large)', 'epsanet50-l', 27.90, 4.72, dict(note=_EPSA_L)),
        ('DMSANet', 'dmsanet50', 26.25, 3.44, dict(note=_DMSA)),
    ]),
    *_rows('DMSANet', 'Table 3', [
        ('ResNet', 'r101', 44.55, 7.85),
        ('SENet', 'se-r101', 49.29, 7.86),
        ('CBAM', 'cbam-r101', 49.33, 7.88),
        ('SRM', 'srm-r101', 44.68, 7.95),
        ('ECANet', 'eca-r101', 44.55, 7.86),
        ('EPSANet (Small)', 'epsanet101-s', 38.90, 6.82),
        ('EPSANet (Large)', 'epsanet101-l', 49.59, 8.97,
         dict(note=_EPSA_L)),
        ('DMSANet', 'dmsanet101', 42.29, 7.11, dict(note=_DMSA)),
    ]),
    # DMSANet, Tables 4-6: COCO (baselines copy EPSANet's Table 3).
    *_rows('DMSANet', 'Table 4', [
        ('ResNet-50', 'faster-rcnn:r50', 41.53, 207.07),
        ('SENet-50', 'faster-rcnn:se-r50', 44.02, 207.18),
        ('ECANet-50', 'faster-rcnn:eca-r50', 41.53, 207.18),
        ('SANet-50', 'faster-rcnn:sa-r50', 41.53, 207.35),
        ('FcaNet-50', 'faster-rcnn:fca-r50', 44.02, 215.63),
        ('EPSANet-50 (Small)', 'faster-rcnn:epsanet50-s', 38.56, 197.07),
        ('EPSANet-50 (Large)', 'faster-rcnn:epsanet50-l', 43.85, 219.64,
         dict(note=_EPSA_L)),
        ('DMSANet (Faster R-CNN)', 'faster-rcnn:dmsanet50', 44.17, 222.31,
         dict(note=_DMSA)),
    ], input_size=COCO),
    *_rows('DMSANet', 'Table 5', [
        ('ResNet-50', 'mask-rcnn:r50', 44.18, 275.58, dict(note=_MASK)),
        ('SENet-50', 'mask-rcnn:se-r50', 46.67, 275.69),
        ('GCNet-50', 'mask-rcnn:gc-r50', 46.90, 279.60),
        ('ECANet-50', 'mask-rcnn:eca-r50', 44.18, 275.69),
        ('SANet-50', 'mask-rcnn:sa-r50', 44.18, 275.86),
        ('FcaNet-50', 'mask-rcnn:fca-r50', 46.66, 261.93),
        ('EPSANet-50 (Small)', 'mask-rcnn:epsanet50-s', 41.20, 248.53),
        ('EPSANet-50 (Large)', 'mask-rcnn:epsanet50-l', 46.50, 271.10,
         dict(note=_EPSA_L)),
        ('DMSANet (Mask R-CNN)', 'mask-rcnn:dmsanet50', 47.23, 279.26,
         dict(note=_DMSA)),
    ], input_size=COCO),
    *_rows('DMSANet', 'Table 6', [
        ('ResNet-50', 'retinanet:r50', 37.74, 239.32),
        ('SENet-50', 'retinanet:se-r50', 40.25, 239.43),
        ('SANet-50', 'retinanet:sa-r50', 37.74, 239.60),
        ('EPSANet-50 (Small)', 'retinanet:epsanet50-s', 34.78, 229.32),
        ('EPSANet-50 (Large)', 'retinanet:epsanet50-l', 40.07, 251.89,
         dict(note=_EPSA_L)),
        ('DMSANet (RetinaNet)', 'retinanet:dmsanet50', 41.63, 270.17,
         dict(note=_DMSA)),
    ], input_size=COCO),
    # DMSANet, Table 8: ablation of the spatial gate's norm (GFLOPs only).
    *_rows('DMSANet', 'Table 8', [
        ('DMSANet-50 "W BN"',
         "dict(type='DMSANet', depth=50, dmsa_cfg=dict(norm='BN'))", None,
         3.82, dict(ours='dmsanet50 (norm=BN)', note=_DMSA)),
        ('DMSANet-50 "W GN"',
         "dict(type='DMSANet', depth=50, dmsa_cfg=dict(norm='GN'))", None,
         3.56, dict(ours='dmsanet50 (norm=GN)', note=_DMSA)),
    ]),
    # DCANet, Table 1: ImageNet, ResNet-50 re-implementations and DCA.
    *_rows('DCANet', 'Table 1', [
        ('ResNet50', 'r50', 25.56, 4.122),
        ('SE-ResNet50', 'se-r50', 28.09, 4.130),
        ('DCA-SE-ResNet50', 'dca-se-1fc-r50', 30.90, 4.133),
        ('SK-ResNet50', 'sk-r50', 37.12, 5.979),
        ('DCA-SK-ResNet50', 'dca-sk-1fc-r50', 37.48, 5.982),
        ('GE-ResNet50', 'ge-r50', 26.06, 4.143, dict(note=_GE_NOTE)),
        ('DCA-GE-ResNet50', 'dca-ge-1fc-r50', 28.84, 4.455,
         dict(note=_GE_NOTE)),
        ('GC-ResNet50', 'gc-r50', 28.11, 4.130),
        ('DCA-GC-ResNet50', 'dca-gc-r50', 28.63, 4.131),
        ('CBAM-ResNet50', 'cbam-r50', 28.09, 4.139),
        ('DCA-CBAM-ResNet50', 'dca-cbam-1fc-r50', 30.90, 4.142),
    ]),
    # DCANet, Table 2: connection schemas (SE-ResNet50, 1 FC matching).
    *_rows('DCANet', 'Table 2', [
        ('SE-ResNet50', 'se-r50', 28.09, 4.130),
        ('Direct', 'dca-se-1fc-r50', 30.90, 4.133),
        ('Softmax',
         "dict(type='DCAResNet', depth=50, attention=dict(type='SE'), "
         "connection='softmax', channel_matching='1fc')", 30.90, 4.133,
         dict(ours='dca-se-1fc-r50 (softmax)')),
        ('Weighted',
         "dict(type='DCAResNet', depth=50, attention=dict(type='SE'), "
         "connection='weighted', channel_matching='1fc')", 30.90, 4.133,
         dict(ours='dca-se-1fc-r50 (weighted)')),
    ]),
    # DCANet, Table 3: depth.
    *_rows('DCANet', 'Table 3', [
        ('ResNet50', 'r50', 25.56, 4.122),
        ('SE (ResNet50)', 'se-r50', 28.09, 4.130),
        ('DCA-SE (ResNet50)', 'dca-se-1fc-r50', 30.90, 4.133),
        ('ResNet101', 'r101', 44.55, 7.849),
        ('SE (ResNet101)', 'se-r101', 49.33, 7.863),
        ('DCA-SE (ResNet101)', 'dca-se-1fc-r101', 52.17, 7.866),
        ('ResNet152', 'r152', 60.19, 11.581),
        ('SE (ResNet152)', 'se-r152', 66.82, 11.600),
        ('DCA-SE (ResNet152)', 'dca-se-1fc-r152', 69.70, 11.603),
    ]),
    # DCANet, Table 4: channel matching (SE-ResNet50).
    *_rows('DCANet', 'Table 4', [
        ('SE-ResNet50', 'se-r50', 28.09, 4.130),
        ('1 FC', 'dca-se-1fc-r50', 30.90, 4.133),
        ('2 FC (r=16)', 'dca-se-2fc-r50', 28.65, 4.131),
        ('2 FC (r=8)',
         "dict(type='DCAResNet', depth=50, attention=dict(type='SE'), "
         "channel_matching='2fc', matching_reduction=8)", 29.87, 4.132,
         dict(ours='dca-se-2fc-r50 (r=8)')),
        ('2 FC (r=4)',
         "dict(type='DCAResNet', depth=50, attention=dict(type='SE'), "
         "channel_matching='2fc', matching_reduction=4)", 32.31, 4.134,
         dict(ours='dca-se-2fc-r50 (r=4)')),
    ]),
    # EMA, Tables 1 and 3: CIFAR-100 (32×32, CIFAR ResNet stem).
    *_rows('EMA', 'Table 1', [
        ('ResNet50', 'r50', 23.71, 1.30),
        ('+ CBAM', 'cbam-r50', 26.24, 1.31),
        ('+ SA', 'sa-r50', 23.71, 1.31),
        ('+ ECA', 'eca-r50', 23.71, 1.31),
        ('+ NAM', 'nam-r50', 23.71, 1.31),
        ('+ CA', 'ca-r50', 25.57, 1.36),
        ('+ EMA', 'ema-r50', 23.85, 1.32, dict(note=_EMA)),
        ('ResNet101', 'r101', 42.70, 2.53),
        ('+ CA (ResNet101)', 'ca-r101', 46.22, 2.54),
        ('+ EMA (ResNet101)', 'ema-r101', 42.96, 2.53, dict(note=_EMA)),
    ], input_size=CIFAR, num_classes=100, cifar_stem=True),
    *_rows('EMA', 'Table 3', [
        ('+ EMA_16', 'ema16-r50', 24.44, 1.34, dict(note=_EMA)),
        ('+ EMA_32', 'ema-r50', 23.84, 1.32, dict(note=_EMA)),
    ], input_size=CIFAR, num_classes=100, cifar_stem=True),
    # EMCA, Table 2: channel attention in every block ("All"), params only.
    *_rows('EMCA', 'Table 2', [
        ('SE, All, R-18', 'se-r18', 11.231, None),
        ('ECA, All, R-18', 'eca-r18', 11.148, None),
        ('SRM, All, R-18', 'srm-r18', 11.152, None),
        ('SE, All, R-34', 'se-r34', 20.938, None),
        ('ECA, All, R-34', 'eca-r34', 20.788, None),
        ('SRM, All, R-34', 'srm-r34', 20.795, None),
        ('SE, All, R-50', 'se-r50', 26.772, None),
        ('ECA, All, R-50', 'eca-r50', 24.373, None),
        ('SRM, All, R-50', 'srm-r50', 24.402, None),
    ], params_unit=2**20, note=_EMCA2),
    *_rows('EMCA', 'Table 2', [
        ('SE, First, R-18', 'emca-se-r18', 11.189, None),
        ('ECA, First, R-18', 'emca-eca-r18', 11.148, None),
        ('SRM, First, R-18', 'emca-srm-r18', 11.150, None),
        ('SE, First, R-34', 'emca-se-r34', 20.829, None),
        ('ECA, First, R-34', 'emca-eca-r34', 20.788, None),
        ('SRM, First, R-34', 'emca-srm-r34', 20.790, None),
        ('SE, First, R-50', 'emca-se-r50', 25.037, None),
        ('ECA, First, R-50', 'emca-eca-r50', 24.373, None),
        ('SRM, First, R-50', 'emca-srm-r50', 24.380, None),
    ], params_unit=2**20, note=_EMCA_FIRST),
    # EMCA, Table 6: COCO val2017.
    *_rows('EMCA', 'Table 6', [
        ('Faster R-CNN ResNet-50', 'faster-rcnn:r50', 41.53, 207.07),
        ('Faster R-CNN +SE', 'faster-rcnn:se-r50', 44.02, 207.18),
        ('Faster R-CNN +EMCA+SE', 'faster-rcnn:emca-se-r50', 42.56, 207.18),
        ('Faster R-CNN +ECA', 'faster-rcnn:eca-r50', 41.53, 207.18),
        ('Faster R-CNN +EMCA+ECA', 'faster-rcnn:emca-eca-r50', 41.53,
         207.18),
        ('Mask R-CNN ResNet-50', 'mask-rcnn:r50', 44.18, 275.58,
         dict(note=_MASK)),
        ('Mask R-CNN +GC', 'mask-rcnn:gc-r50', 46.90, 279.60),
        ('Mask R-CNN +SE', 'mask-rcnn:se-r50', 46.67, 275.69),
        ('Mask R-CNN +EMCA+SE', 'mask-rcnn:emca-se-r50', 45.13, 275.69),
        ('Mask R-CNN +ECA', 'mask-rcnn:eca-r50', 44.18, 275.69),
        ('Mask R-CNN +EMCA+ECA', 'mask-rcnn:emca-eca-r50', 44.18, 275.69),
        ('RetinaNet ResNet-50', 'retinanet:r50', 37.74, 239.32),
        ('RetinaNet +SE', 'retinanet:se-r50', 40.23, 239.43),
        ('RetinaNet +EMCA+SE', 'retinanet:emca-se-r50', 38.88, 239.43),
        ('RetinaNet +ECA', 'retinanet:eca-r50', 37.74, 239.43),
        ('RetinaNet +EMCA+ECA', 'retinanet:emca-eca-r50', 37.74, 239.43),
    ], input_size=COCO),
]

#: Rows of the papers' complexity tables that are not in :data:`ROWS`.
SKIPPED = [
    ('EPSANet Table 2, DMSANet Tables 2-3', 'A²-Net, ABN, AANet',
     'not implemented in mmattn'),
    ('EPSANet Table 2, DMSANet Table 3', 'BAM-101',
     'BAM sits between stages; AttnResNet plugins go in every block'),
    ('EPSANet/DMSANet/EMCA detection tables', 'Mask R-CNN + 1 Non-local',
     'one block in c4; AttnResNet plugins go in every block of a stage'),
    ('DMSANet Table 8', 'shuffle norm, W/O F_c(), 1×1 conv', 'no option'),
    ('DCANet Tables 1, 3', 'MnasNet, MobileNetV2 rows', 'not implemented'),
    ('DCANet Tables 5-6', 'DCA-C / DCA-S (one CBAM dimension connected)',
     'DCA connects both CBAM gates'),
    ('EMA Table 2', 'YOLOv5s / YOLOv5x', 'not implemented'),
    ('EMA Table 3', 'EMA_no (no cross-spatial learning)', 'no option'),
    ('EMCA Table 2', '"Last" rows', 'the same counts as "First"'),
    ('EMCA Tables 4-5', 'ImageNet EMCA rows',
     'the tables are images, absent from the text copy'),
]
