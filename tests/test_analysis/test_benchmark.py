import json
import os
import statistics

import pytest
import torch

from mmattn.analysis.benchmark import (BenchmarkConfig, BenchmarkResult, Row,
                                       Variant, markdown, run_benchmark,
                                       with_baselines)
from mmattn.analysis.models import resolve


def test_baselines_are_added_once():
    specs = [resolve('se-r18'), resolve('eca-r18'), resolve('r50')]
    entries = with_baselines(specs)
    assert [(s.name, added) for s, added in entries] == [
        ('se-r18', False), ('eca-r18', False), ('r50', False),
        ('r18', True)]


def test_detector_baselines():
    # A named detector on a plain ResNet is its own baseline.
    entries = with_baselines([resolve('mask-rcnn:r18')])
    assert [(s.name, added) for s, added in entries] == [
        ('mask-rcnn:r18', False)]
    entries = with_baselines([resolve('faster-rcnn:se-r18')])
    assert [(s.name, added) for s, added in entries] == [
        ('faster-rcnn:se-r18', False), ('faster-rcnn:r18', True)]
    # The ResNet-18 detectors get ResNet-18's FPN input widths.
    neck = entries[1][0].cfg['neck']
    assert neck['in_channels'] == [64, 128, 256, 512]


@pytest.fixture
def no_fork(monkeypatch):
    """Fail the test if anything forks this process (multiprocessing's
    'fork' start method; ``subprocess`` and 'spawn' exec a new program)."""

    def refuse():
        raise AssertionError('the benchmark forked a process that already '
                             'runs torch thread pools')

    monkeypatch.setattr(os, 'fork', refuse)


def test_tiny_models_against_resnet_after_torch_ran(load_tool, tmp_path,
                                                    capsys, no_fork):
    # Torch's intra-op pool is running in this process, as in a notebook.
    torch.set_num_threads(2)
    torch.randn(512, 512) @ torch.randn(512, 512)
    tool = load_tool('analysis/benchmark.py')
    out = tmp_path / 'bench.json'
    code = tool.main(['se-r18', 'eca-r18', '--input-size', '32',
                      '--batch-size', '1', '--warmup', '0', '--rounds', '3',
                      '--min-run-time', '0', '--no-memory', '--json',
                      str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert 'load average at the start' in captured.err
    assert 'load average at the end' in captured.err
    table = captured.out
    assert 'fwd vs ResNet' in table and '`r18 (baseline)`' in table
    assert '3 rounds' in table and 'Load average' in table
    data = json.loads(out.read_text())
    rows = {row['name']: row for row in data['rows']}
    assert list(rows) == ['se-r18', 'eca-r18', 'r18']
    base = rows['r18']['times']
    for row in rows.values():
        assert row['baseline'] == 2
        for mode in ('forward', 'train'):
            times = row['times'][mode]
            assert len(times) == 3 and all(t > 0 for t in times)
            assert row['median_s'][mode] == statistics.median(times)
            # The ratio pairs each round with the baseline's same round.
            assert row['ratio'][mode] == pytest.approx(statistics.median(
                [t / b for t, b in zip(times, base[mode])]))
    assert rows['r18']['ratio'] == {'forward': 1.0, 'train': 1.0}
    assert rows['se-r18']['params'] > rows['r18']['params']


def test_every_variant_has_its_own_baseline(no_fork):
    config = BenchmarkConfig(input_size=(32, 32), batch_size=1,
                             modes=('forward', ), rounds=2, warmup=0,
                             min_run_time=0, memory=False,
                             memory_formats=('contiguous', 'channels_last'),
                             compile=True, compile_backend='eager')
    result = run_benchmark([resolve('eca-r18')], config, log=lambda _: None)
    labels = [(row.name, row.variant.label) for row in result.rows]
    variants = [v.label for v in config.variants()]
    assert labels == [('eca-r18', v) for v in variants] + [
        ('r18', v) for v in variants]
    for row in result.rows:
        assert row.error is None and len(row.times['forward']) == 2
        assert result.rows[row.baseline].variant == row.variant
        assert result.rows[row.baseline].name == 'r18'
    table = markdown(result)
    assert '| variant |' in table
    assert 'channels_last, fp32, compiled' in table


def test_peak_memory_grows_with_the_batch(no_fork):
    """CPU peak memory comes from a fresh subprocess per model and mode: a
    training step needs the gradients (4 bytes per parameter) plus the
    activations, which grow with the batch."""
    activations = {}
    for batch in (1, 8):
        config = BenchmarkConfig(input_size=(64, 64), batch_size=batch,
                                 modes=('train', ), rounds=1, warmup=0,
                                 min_run_time=0)
        result = run_benchmark([resolve('r18')], config, log=lambda _: None)
        (row, ) = result.rows
        assert row.error is None
        activations[batch] = row.peak_memory['train'] - 4 * row.params
    # ResNet-18 at 64x64 keeps over 1 MB of activations per image.
    assert activations[1] > 2**20
    assert activations[8] > 4 * activations[1]


def test_markdown_marks_failed_and_skipped_rows():
    config = BenchmarkConfig(modes=('forward', ), rounds=3, memory=False)
    ok = Row('r18', 'classifier', Variant(), (32, 32), 1, params=10**6,
             baseline=0, times={'forward': [0.014, 0.010, 0.012]})
    slow = Row('dmsanet50', 'classifier', Variant(), (32, 32), 1,
               skipped={'forward': 'one iteration took 9.0 s > 5 s'},
               times={'forward': [None] * 3})
    broken = Row('x-r18', 'classifier', Variant(), (32, 32), 1, baseline=0,
                 error='Traceback ...\nValueError: bad')
    result = BenchmarkResult(config, [ok, slow, broken],
                             dict(torch='2', python='3', torch_threads=1,
                                  cpu_count=2, date='now', cpu='cpu'))
    table = markdown(result)
    assert '| `r18` | 1×32×32 | 1.00 | 12.0 | 83.33 | 1.00× | 17% |' in table
    assert '| `dmsanet50` | 1×32×32 | - | skipped | - | - | - |' in table
    assert '| `x-r18` | 1×32×32 | - | failed | - | - | - |' in table
    assert 'x-r18: failed (ValueError: bad)' in table
    assert result.ratio(broken, 'forward') is None
