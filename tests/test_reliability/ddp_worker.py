"""Worker of test_ddp.py, run by ``python -m torch.distributed.run
--nproc_per_node 2`` on CPU (gloo).

For every backbone of ``BACKBONES`` and ``DDP_EXTRA``: wrap it in mmengine's
``MMDistributedDataParallel`` with ``find_unused_parameters=False`` (mmengine's
default), train two SGD steps on random 32×32 images (different on each
rank) and check that the ranks' parameters are still identical. A parameter
that takes no part in the loss makes DDP raise at the second step, which
the negative control (a backbone with one unused Linear) shows. Then a
SyncBN backbone: under gloo on CPU torch's SyncBatchNorm refuses to train
(it syncs only GPU tensors); mmengine's ``revert_sync_batchnorm`` makes it
train.

Writes ``<out_dir>/rank<RANK>.json``: name -> 'ok' or the error message.
"""
import copy
import json
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from torch import nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmattn  # noqa: E402,F401  (registers the models)
from mmattn.registry import MODELS  # noqa: E402
from test_reliability.backbones import BACKBONES, DDP_EXTRA  # noqa: E402


class WithUnusedLayer(nn.Module):
    """A backbone plus a layer no forward uses (the negative control)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.unused = nn.Linear(4, 4)

    def forward(self, x):
        return self.backbone(x)


def train_two_steps(model: nn.Module, rank: int) -> str:
    model.train()
    ddp = MMDistributedDataParallel(
        module=model, device_ids=None, broadcast_buffers=False,
        find_unused_parameters=False)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(rank)
    for _ in range(2):
        outs = ddp(torch.randn(2, 3, 32, 32, generator=generator))
        loss = sum(out.float().square().mean() for out in outs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    if not all(torch.equal(gathered[0], other) for other in gathered[1:]):
        return 'parameters differ between ranks after two steps'
    return 'ok'


def run(name: str, build, rank: int, results: dict) -> None:
    torch.manual_seed(0)
    try:
        results[name] = train_two_steps(build(), rank)
    except Exception as exc:  # recorded for the test to judge
        results[name] = f'{type(exc).__name__}: {exc}'


def main() -> None:
    out_dir = sys.argv[1]
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    results = {'world_size': dist.get_world_size()}
    for name, cfg in {**BACKBONES, **DDP_EXTRA}.items():
        run(name, lambda: MODELS.build(copy.deepcopy(cfg)), rank, results)
    small = dict(type='AttnResNet', depth=18, base_channels=16)
    run('control: unused layer',
        lambda: WithUnusedLayer(MODELS.build(copy.deepcopy(small))), rank,
        results)
    syncbn = dict(small, norm_cfg=dict(type='SyncBN', requires_grad=True))
    run('SyncBN', lambda: MODELS.build(copy.deepcopy(syncbn)), rank, results)
    run('SyncBN reverted',
        lambda: revert_sync_batchnorm(MODELS.build(copy.deepcopy(syncbn))),
        rank, results)
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(results, f, indent=1)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
