"""Say which ImageNet checkpoint a config needs, and how to get it, before
anything is built.

The detection configs of backbones whose layout is not torchvision's
ResNet-50 (EPSANet, DMSANet, DCA, EMCA, SK) start from the ImageNet
checkpoint of the matching classification config of this repository,
``init_cfg=dict(type='Pretrained', prefix='backbone.',
checkpoint='checkpoints/<classification config>.pth')``. Nothing downloads
it: without the file mmengine fails with a bare ``FileNotFoundError`` after
building the dataloaders and the model. :func:`check_pretrained_weights`
(called by ``tools/train.py``, ``tools/run_demo.py`` and the benchmark
suite before building anything) raises :class:`MissingCheckpointError`
instead, whose message names the file and the ways to get it.
"""
import functools
import glob
import os.path as osp
import re
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config

#: ``init_cfg`` checkpoints with these prefixes are fetched by mmengine.
_REMOTE = ('http://', 'https://', 'torchvision://', 'open-mmlab://',
           'openmmlab://', 'mmcls://', 'mmpretrain://', 's3://', 'pavi://')
#: The option that trains a backbone without ImageNet weights: every stage
#: trained and BatchNorm statistics updated.
FROM_SCRATCH_OPTIONS = ('model.backbone.init_cfg=None '
                        'model.backbone.frozen_stages=-1 '
                        'model.backbone.norm_eval=False')


class MissingCheckpointError(FileNotFoundError):
    """A config's pretrained checkpoint is not on disk; the message says
    how to get it."""

    def __str__(self) -> str:
        return self.args[0]


def _repo_file(*parts: str) -> str:
    """A file of the repository (the checkout, or ``mmattn/.mim`` of an
    installed package)."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        if osp.exists(osp.join(root, parts[0])):
            return osp.join(root, *parts)
    return osp.join(osp.dirname(package), *parts)


def _shown(path: str) -> str:
    """``path`` relative to the working directory when below it."""
    relative = osp.relpath(path)
    return path if relative.startswith('..') else relative


def pretrained_checkpoints(model: dict,
                           where: str = 'model') -> Iterator[Tuple[str, dict]]:
    """(place, init_cfg) of every ``Pretrained`` init_cfg in ``model``."""
    if isinstance(model, dict):
        init_cfgs = model.get('init_cfg')
        for init_cfg in init_cfgs if isinstance(init_cfgs, list) else \
                [init_cfgs]:
            if isinstance(init_cfg, dict) and init_cfg.get(
                    'type') == 'Pretrained' and init_cfg.get('checkpoint'):
                yield f'{where}.init_cfg', init_cfg
        for key, value in model.items():
            if key != 'init_cfg':
                yield from pretrained_checkpoints(value, f'{where}.{key}')
    elif isinstance(model, (list, tuple)):
        for index, value in enumerate(model):
            yield from pretrained_checkpoints(value, f'{where}.{index}')


def producing_config(checkpoint: str) -> Optional[str]:
    """The classification config of this repository whose checkpoint
    ``checkpoint`` is (same base name), or None."""
    name = osp.splitext(osp.basename(checkpoint))[0]
    found = glob.glob(_repo_file('configs', '**', name + '.py'),
                      recursive=True)
    return found[0] if len(found) == 1 else None


@functools.lru_cache(maxsize=None)
def _max_epochs(config: str) -> Optional[int]:
    return (Config.fromfile(config).get('train_cfg') or {}).get('max_epochs')


def _converter_lines(backbone: dict, checkpoint: str) -> List[str]:
    """How to convert the authors' checkpoint for ``backbone``, if a
    converter exists."""
    kind = backbone.get('type')
    tools = _shown(_repo_file('tools', 'model_converters'))
    if kind == 'EPSANet':
        return [
            "convert the EPSANet authors' ImageNet checkpoint "
            '(github.com/murufeng/EPSANet) of the same depth and variant:',
            f'    python {tools}/epsanet_to_mmattn.py <their .pth.tar> '
            f'{checkpoint} --classifier'
        ]
    if kind == 'DCAResNet':
        attention = (backbone.get('attention') or {}).get('type', 'SE')
        matching = backbone.get('channel_matching', '2fc')
        return [
            "convert the DCANet authors' ImageNet checkpoint "
            f'(github.com/ma-xu/DCANet) of DCA-{attention}-ResNet:',
            f'    python {tools}/dcanet_to_mmattn.py <their checkpoint> '
            f'{checkpoint} --attention {attention} --matching {matching} '
            '--classifier',
            '    (the converter refuses a channel matching their code does '
            'not have and names theirs: then convert with theirs and set '
            'model.backbone.channel_matching to it)'
        ]
    return []


def _how_to_get(place: str, checkpoint: str, backbone: dict) -> str:
    lines = [f'{place} loads {checkpoint}, which does not exist '
             f'(looked for {osp.abspath(checkpoint)}). Get it in one of '
             'these ways:']
    ways = []
    config = producing_config(checkpoint)
    if config is not None:
        epochs = _max_epochs(config)
        last = f'epoch_{epochs}.pth' if epochs else 'the last checkpoint'
        name = osp.splitext(osp.basename(config))[0]
        # OpenMMLab names say the GPUs they were tuned for: <gpus>xb<batch>.
        gpus = re.search(r'_(\d+)xb\d+_', name)
        ways.append([
            'train the classification config that produces it (ImageNet-1k '
            'under data/imagenet/), then copy its last checkpoint:',
            f'    bash {_shown(_repo_file("tools", "dist_train.sh"))} '
            f'{_shown(config)} {gpus.group(1) if gpus else 8}',
            f'    mkdir -p {osp.dirname(checkpoint) or "."} && cp '
            f'work_dirs/{name}/{last} {checkpoint}'
        ])
    converter = _converter_lines(backbone, checkpoint)
    if converter:
        ways.append(converter)
    ways.append([
        'train from scratch, without ImageNet weights (much lower AP on '
        'COCO schedules):',
        f'    --cfg-options {FROM_SCRATCH_OPTIONS}'
    ])
    for number, way in enumerate(ways, 1):
        lines.append(f'  {number}. {way[0]}')
        lines.extend(f'  {line}' for line in way[1:])
    return '\n'.join(lines)


def check_pretrained_weights(cfg: Config) -> None:
    """Raise :class:`MissingCheckpointError` when a ``Pretrained``
    ``init_cfg`` of the model names a local file that does not exist.

    Remote checkpoints (``torchvision://``, URLs...) are left to mmengine.
    """
    missing = []
    for place, init_cfg in pretrained_checkpoints(cfg.get('model') or {}):
        checkpoint = str(init_cfg['checkpoint'])
        if checkpoint.startswith(_REMOTE) or osp.exists(checkpoint):
            continue
        owner = cfg.model
        for key in place.split('.')[1:-1]:
            owner = owner[int(key)] if isinstance(owner, list) else \
                owner[key]
        missing.append(_how_to_get(place, checkpoint, owner))
    if missing:
        raise MissingCheckpointError('\n'.join(missing))
