import pytest

from mmattn.analysis.models import (attention_cfg, attention_names,
                                    backbone_cfg, literal_dict, resolve)
from mmattn.analysis.paper_numbers import ROWS
from mmattn.registry import CONV_REPLACEMENT, MODELS, PLUGIN, list_models

#: The short names of the README's tables and paper_numbers.py.
README_NAMES = ('se', 'eca', 'cbam', 'bam', 'gc', 'ge', 'srm', 'sa', 'ca',
                'triplet', 'fca', 'nam', 'ema', 'ema16', 'nl', 'pam', 'cam')


def test_literal_dict_reads_data():
    assert literal_dict(
        "dict(type='DCAResNet', depth=50, attention=dict(type='SE'), "
        "strides=(1, 2, 2, 2), plugins=[{'position': 'after_conv3'}], "
        "eps=-1e-5, frozen=None, norm_eval=True)") == dict(
            type='DCAResNet', depth=50, attention=dict(type='SE'),
            strides=(1, 2, 2, 2), plugins=[dict(position='after_conv3')],
            eps=-1e-5, frozen=None, norm_eval=True)


@pytest.mark.parametrize('text', [
    "dict(type=__import__('os').system('touch {marker}'))",
    "{{'type': open('{marker}', 'w').close()}}",
    "dict(type='SE', **{{'x': exec(\"open('{marker}', 'w')\")}})",
    "dict(type=[x for x in ().__class__.__base__.__subclasses__()])",
    "dict(type=SE)",
    "[dict(type='SE')]",
    "dict(type='SE'",
])
def test_literal_dict_runs_nothing(text, tmp_path):
    marker = tmp_path / 'marker'
    with pytest.raises(ValueError):
        literal_dict(text.format(marker=marker))
    with pytest.raises(ValueError):
        resolve(text.format(marker=marker))
    assert not marker.exists()


def test_every_attention_has_its_own_short_name():
    names = attention_names()
    types = {type_name for type_name, _ in names.values()}
    assert types == set(list_models(PLUGIN) + list_models(CONV_REPLACEMENT))
    assert set(README_NAMES) <= set(names)
    for short, (type_name, preset) in names.items():
        cls = MODELS.get(type_name)
        declared = getattr(cls, '_short_name_', None) or cls._abbr_
        assert short == declared or short in getattr(cls, '_presets_', {})
        assert attention_cfg(short) == dict(type=type_name, **preset)


@pytest.mark.parametrize('name, plugin', [
    ('se-r50', dict(type='SE')),
    ('triplet-r18', dict(type='TripletAttention')),
    ('ema16-r50', dict(type='EMA', factor=16)),
    ('ema(factor=8)-r50', dict(type='EMA', factor=8)),
    ('ema16(factor=4)-r50', dict(type='EMA', factor=4)),
    ("cbam(spatial=False, reduction=8)-r50",
     dict(type='CBAM', spatial=False, reduction=8)),
])
def test_plugin_names(name, plugin):
    cfg = backbone_cfg(name)
    depth = int(name.rsplit('-r', 1)[1])
    assert cfg == dict(type='AttnResNet', depth=depth, plugins=[dict(
        cfg=plugin, stages=(True, ) * 4,
        position='after_conv3' if depth >= 50 else 'after_conv2')])


def test_backbone_names():
    assert backbone_cfg('R50') == dict(type='AttnResNet', depth=50)
    assert backbone_cfg('dca-se-1fc-r101') == dict(
        type='DCAResNet', depth=101, attention=dict(type='SE'),
        channel_matching='1fc')
    assert backbone_cfg('dca-sk-r50') == dict(
        type='DCAResNet', depth=50, attention=dict(type='SK'))
    assert backbone_cfg('emca-srm-r18') == dict(
        type='EMCAResNet', depth=18, excitation='SRM')
    assert backbone_cfg('emca-se(reduction=8)-r50') == dict(
        type='EMCAResNet', depth=50, excitation='SE',
        excitation_cfg=dict(reduction=8))
    assert backbone_cfg('epsanet101-l') == dict(type='EPSANet', depth=101,
                                                variant='large')
    assert backbone_cfg('dmsanet50') == dict(type='DMSANet', depth=50)
    assert backbone_cfg('sk-r50')['conv2_cfg'] == dict(
        type='SK', groups=1, min_channels=1)


def test_every_paper_row_resolves():
    for row in ROWS:
        spec = resolve(row.model)
        assert spec.kind == row.kind


@pytest.mark.parametrize('name, message', [
    ('xyz-r50', "unknown attention 'xyz'"),
    ('psa-r50', 'no plugin'),
    ('resnet50', 'unknown model name'),
    ('ema(factor=__import__("os"))-r50', 'is not a literal'),
])
def test_unknown_names_say_what_exists(name, message):
    with pytest.raises(ValueError) as error:
        backbone_cfg(name)
    assert message in str(error.value)
    if 'unknown' in message:
        assert 'triplet' in str(error.value) and 'ema16' in str(error.value)
