"""Schedules that follow the run length (mmattn.engine.schedule)."""
import argparse
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

from mmattn.cli import add_runner_arguments, load_config
from mmattn.engine.schedule import (LENGTH_KEY, fit_schedule_to_run_length,
                                    remember_schedule_length)
from mmattn_test_utils import REPO_ROOT

DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                'retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py')
COCO_1X = osp.join(REPO_ROOT, 'configs', 'se',
                   'faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py')


def _loaded(path: str, **train_cfg) -> Config:
    """The config as the tools load it: schedule length remembered, then
    ``train_cfg`` overridden from the command line."""
    cfg = Config.fromfile(path)
    remember_schedule_length(cfg)
    cfg.merge_from_dict({f'train_cfg.{k}': v for k, v in train_cfg.items()})
    return cfg


def _learning_rates(cfg: Config, steps: int) -> list:
    """The lr of each iteration of a run of ``steps`` iterations under the
    config's (iteration-based) schedulers, built by mmengine."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW(
        [parameter], lr=cfg.optim_wrapper.optimizer.lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(copy.deepcopy(s), optimizer=wrapper))
        for s in cfg.param_scheduler]
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return rates


def test_shorter_run_scales_warm_up_cosine_and_intervals():
    cfg = _loaded(DEMO, max_iters=200)
    changes = fit_schedule_to_run_length(cfg)
    warm_up, cosine = cfg.param_scheduler
    assert (warm_up.begin, warm_up.end) == (0, 10)
    assert (cosine.begin, cosine.end, cosine.T_max) == (100, 200, 100)
    assert cfg.train_cfg.val_interval == 200
    assert cfg.default_hooks.checkpoint.interval == 200
    assert cfg[LENGTH_KEY] == 200
    assert changes[0] == f'{LENGTH_KEY}: 1000 -> 200'
    # Fitting again (a dumped config loaded again) changes nothing.
    before = copy.deepcopy(cfg.to_dict())
    assert fit_schedule_to_run_length(cfg) == []
    assert cfg.to_dict() == before


def test_the_learning_rate_decays_to_its_minimum_within_the_run():
    peak = 2e-3
    for length in (8, 200, 1000, 3000):
        cfg = _loaded(DEMO, max_iters=length)
        fit_schedule_to_run_length(cfg)
        rates = _learning_rates(cfg, length)
        # 5% of the run, at least 2 iterations (a 1-iteration LinearLR
        # would never leave its start factor).
        warm_up_end = max(length // 20, 2)
        assert rates[0] < peak / 100
        assert rates[warm_up_end] == pytest.approx(peak)
        assert rates[length // 2] == pytest.approx(peak)
        assert rates[-1] < peak / 5
        if length >= 200:
            assert rates[-1] == pytest.approx(2e-5, rel=0.05, abs=1e-6)
        assert all(a >= b for a, b in zip(rates[length // 2:],
                                          rates[length // 2 + 1:]))


def test_unfitted_short_run_never_decays():
    """What happens without fitting (the bug the fitting removes)."""
    cfg = _loaded(DEMO, max_iters=200)
    rates = _learning_rates(cfg, 200)
    assert rates[-1] == pytest.approx(2e-3)


def test_epoch_based_milestones_scale_iteration_warm_up_stays():
    cfg = _loaded(COCO_1X, max_epochs=24)
    fit_schedule_to_run_length(cfg)
    warm_up, steps = cfg.param_scheduler
    assert warm_up.by_epoch is False and warm_up.end == 500
    assert steps.milestones == [16, 22] and steps.end == 24
    cfg = _loaded(COCO_1X, max_epochs=1)
    fit_schedule_to_run_length(cfg)
    assert cfg.param_scheduler[1].milestones == [1, 1]


def test_declared_length_wins_and_none_turns_fitting_off():
    # A config that inherits the demo and sets max_iters=200 in its file:
    # the demo schedule declares the 1000 it was written for.
    cfg = Config.fromfile(DEMO)
    assert cfg[LENGTH_KEY] == 1000
    cfg.merge_from_dict({'train_cfg.max_iters': 200})
    remember_schedule_length(cfg)
    assert cfg[LENGTH_KEY] == 1000
    assert fit_schedule_to_run_length(cfg)
    cfg = _loaded(DEMO, max_iters=200)
    cfg[LENGTH_KEY] = None
    assert fit_schedule_to_run_length(cfg) == []
    assert cfg.param_scheduler[1].end == 1000


def test_tools_fit_the_schedule_to_cfg_options(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_arguments(parser)
    cfg = load_config(parser.parse_args(
        [DEMO, '--cfg-options', 'train_cfg.max_iters=500']))
    assert cfg.param_scheduler[1].begin == 250
    assert cfg.param_scheduler[1].end == 500
    assert 'schedule fitted to the run length' in capsys.readouterr().out
