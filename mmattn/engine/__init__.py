"""Runtime pieces for mmengine's Runner (hooks); importing this package
registers them in mmengine's root ``HOOKS`` registry, so configs of any
OpenMMLab project find them by their plain names."""
from .checkpoint import (WeightsOnlyCheckpointHook, message_hub_from_plain,
                         message_hub_to_plain)

__all__ = ['WeightsOnlyCheckpointHook', 'message_hub_from_plain',
           'message_hub_to_plain']
