"""The leaderboard of a benchmark suite: markdown, CSV and plots, computed
from the results store.

For every model and metric: the number of seeds, mean ± sample std, the 95%
t-interval of the mean and, against the model's baseline, the paired
difference over the seeds both ran with its 95% t-interval and whether
that interval excludes 0 (:mod:`mmattn.suite.stats`). Parameters and GFLOPs
(conv + fc multiply-accumulates, the papers' convention) are the model's;
latency (test forward per image) and training speed are means over seeds.
The CSV has one row per model and metric; the markdown shows the main
metrics; the plots show AP against GFLOPs and against latency, with the
95% intervals of AP (and the std of latency) as error bars.
"""
import csv
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

from .stats import Summary, paired_difference, summarize

#: Metrics shown in the markdown table and the plots, when present.
MAIN_METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
                'coco/segm_mAP_50')
#: Metrics plotted against cost, one panel each, when present.
PLOTTED_METRICS = ('coco/bbox_mAP', 'coco/segm_mAP')
CSV_COLUMNS = ('model', 'baseline', 'metric', 'seeds', 'mean', 'std',
               'ci_low', 'ci_high', 'diff_seeds', 'diff_mean', 'diff_ci_low',
               'diff_ci_high', 'diff_excludes_zero', 'params', 'gflops',
               'latency_ms', 'latency_ms_std', 'train_iter_per_s')


def _value(row: Dict, metric: str) -> Optional[float]:
    value = row['metrics'].get(metric)
    # COCO reports -1 for an area range without ground truth.
    return None if value is None or value < 0 else value


def leaderboard_rows(runs: Sequence[Dict],
                     confidence: float = 0.95) -> List[Dict]:
    """One dict per (model, metric) over the ``done`` runs of ``runs`` (in
    the order models first appear)."""
    done = [r for r in runs if r['status'] == 'done']
    by_model: Dict[str, List[Dict]] = OrderedDict()
    for run in done:
        by_model.setdefault(run['model'], []).append(run)
    rows = []
    for model, model_runs in by_model.items():
        baseline = model_runs[0].get('baseline')
        baseline_runs = by_model.get(baseline, []) if baseline not in (
            None, model) else []
        latency = [r['latency_ms'] for r in model_runs
                   if r.get('latency_ms') is not None]
        latency_summary = summarize(latency, confidence) if latency else None
        speeds = [r['train_iter_per_s'] for r in model_runs
                  if r.get('train_iter_per_s') is not None]
        metrics = sorted({name for r in model_runs for name in r['metrics']})
        for metric in metrics:
            values = {r['seed']: _value(r, metric) for r in model_runs}
            values = {s: v for s, v in values.items() if v is not None}
            if not values:
                continue
            summary = summarize(list(values.values()), confidence)
            base = {r['seed']: _value(r, metric) for r in baseline_runs}
            difference = paired_difference(
                values, {s: v for s, v in base.items() if v is not None},
                confidence)
            rows.append(dict(
                model=model, baseline=baseline, metric=metric,
                summary=summary, difference=difference,
                params=model_runs[0].get('params'),
                gflops=model_runs[0].get('gflops'),
                latency=latency_summary,
                train_iter_per_s=sum(speeds) / len(speeds) if speeds
                else None))
    return rows


def _csv_row(row: Dict) -> Dict:
    summary: Summary = row['summary']
    difference: Optional[Summary] = row['difference']
    latency: Optional[Summary] = row['latency']
    return dict(
        model=row['model'], baseline=row['baseline'], metric=row['metric'],
        seeds=summary.n, mean=summary.mean, std=summary.std,
        ci_low=summary.ci_low, ci_high=summary.ci_high,
        diff_seeds=difference.n if difference else None,
        diff_mean=difference.mean if difference else None,
        diff_ci_low=difference.ci_low if difference else None,
        diff_ci_high=difference.ci_high if difference else None,
        diff_excludes_zero=difference.excludes_zero if difference else None,
        params=row['params'], gflops=row['gflops'],
        latency_ms=latency.mean if latency else None,
        latency_ms_std=latency.std if latency else None,
        train_iter_per_s=row['train_iter_per_s'])


def write_csv(rows: Sequence[Dict], path: str) -> str:
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: '' if v is None else v
                             for k, v in _csv_row(row).items()})
    return path


def _number(value: Optional[float], digits: int = 3) -> str:
    return '–' if value is None else f'{value:.{digits}f}'


def _cell(summary: Summary) -> str:
    if summary.std is None:
        return f'{summary.mean:.3f} (1 seed)'
    return (f'{summary.mean:.3f} ± {summary.std:.3f} '
            f'[{summary.ci_low:.3f}, {summary.ci_high:.3f}]')


def _difference_cell(difference: Optional[Summary]) -> str:
    if difference is None:
        return '–'
    if difference.ci_low is None:
        return f'{difference.mean:+.3f} (1 seed)'
    mark = ' *' if difference.excludes_zero else ''
    return (f'{difference.mean:+.3f} [{difference.ci_low:+.3f}, '
            f'{difference.ci_high:+.3f}]{mark}')


def markdown(rows: Sequence[Dict], runs: Sequence[Dict],
             metrics: Sequence[str] = MAIN_METRICS) -> str:
    """The leaderboard table (main metrics), then the failed runs."""
    shown = [m for m in metrics if any(r['metric'] == m for r in rows)]
    models = list(OrderedDict.fromkeys(r['model'] for r in rows))
    header = ['model', 'seeds', 'params (M)', 'GFLOPs', 'latency (ms)',
              'train it/s']
    for metric in shown:
        name = metric.split('/')[-1]
        header += [name, f'Δ {name}']
    lines = ['| ' + ' | '.join(header) + ' |',
             '|---|' + '---:|' * (len(header) - 1)]
    for model in models:
        mine = {r['metric']: r for r in rows if r['model'] == model}
        first = next(iter(mine.values()))
        latency = first['latency']
        name = f'`{model}`' + (' (baseline)' if first['baseline'] == model
                               else '')
        cells = [
            name, str(max(r['summary'].n for r in mine.values())),
            _number(first['params'] / 1e6 if first['params'] else None, 2),
            _number(first['gflops'], 2),
            '–' if latency is None else (
                f'{latency.mean:.1f}' + (f' ± {latency.std:.1f}'
                                         if latency.std is not None else '')),
            _number(first['train_iter_per_s'], 2)]
        for metric in shown:
            row = mine.get(metric)
            cells += ['–', '–'] if row is None else [
                _cell(row['summary']), _difference_cell(row['difference'])]
        lines.append('| ' + ' | '.join(cells) + ' |')
    confidence = rows[0]['summary'].confidence if rows else 0.95
    lines += [
        '', f'mean ± sample std [{confidence:.0%} t-interval of the mean] '
        'over seeds; Δ: paired difference to the baseline over the seeds '
        f'both ran [{confidence:.0%} t-interval], * when the interval '
        'excludes 0. GFLOPs: conv + fc multiply-accumulates at '
        f'{_input_text(runs)} (mmattn.analysis.complexity); latency: test '
        'forward per image, batch 1, data loading excluded; train it/s: '
        'mean over seeds.']
    failed = [r for r in runs if r['status'] != 'done']
    if failed:
        lines += ['', f'{len(failed)} run(s) not done:', '']
        for run in failed:
            error = (run.get('error') or '').strip().splitlines()
            lines.append(f"- `{run['model']}` seed {run['seed']}: "
                         f"{run['status']}" +
                         (f': {error[0]}' if error else ''))
    return '\n'.join(lines) + '\n'


def _input_text(runs: Sequence[Dict]) -> str:
    shapes = {tuple(r['flops_input']) for r in runs if r.get('flops_input')}
    return ', '.join('×'.join(str(v) for v in s[-2:]) for s in
                     sorted(shapes)) or 'the test size'


def plot(rows: Sequence[Dict], path: str, x_key: str, x_label: str,
         metrics: Sequence[str] = PLOTTED_METRICS) -> Optional[str]:
    """AP (mean, 95% interval) of the main metrics against ``x_key``
    ('gflops' or 'latency'); one panel per metric. None when there is
    nothing to plot."""
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    panels = [m for m in metrics if any(r['metric'] == m for r in rows)]
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels),
                                figsize=(5.5 * len(panels), 4.2),
                                squeeze=False)
    for axis, metric in zip(axes[0], panels):
        for row in (r for r in rows if r['metric'] == metric):
            if x_key == 'gflops':
                x, x_error = row['gflops'], None
            else:
                latency = row['latency']
                x = latency.mean if latency else None
                x_error = latency.std if latency else None
            if x is None:
                continue
            summary = row['summary']
            axis.errorbar(x, summary.mean, yerr=summary.half_width,
                          xerr=x_error, fmt='o', capsize=4,
                          label=row['model'])
            axis.annotate(row['model'], (x, summary.mean),
                          textcoords='offset points', xytext=(6, 4),
                          fontsize=8)
        axis.set_xlabel(x_label)
        axis.set_ylabel(f'{metric.split("/")[-1]} (mean, 95% CI)')
        axis.grid(alpha=0.3)
    figure.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_leaderboard(runs: Sequence[Dict], out_dir: str,
                      confidence: float = 0.95) -> Dict[str, str]:
    """Write ``leaderboard.md``, ``leaderboard.csv``, ``ap_vs_gflops.png``
    and ``ap_vs_latency.png`` into ``out_dir``; returns their paths."""
    rows = leaderboard_rows(runs, confidence)
    os.makedirs(out_dir, exist_ok=True)
    files = dict(csv=write_csv(rows, osp.join(out_dir, 'leaderboard.csv')))
    files['markdown'] = osp.join(out_dir, 'leaderboard.md')
    with open(files['markdown'], 'w') as f:
        f.write(markdown(rows, runs))
    for key, x_key, label in (
            ('ap_vs_gflops', 'gflops', 'GFLOPs (conv + fc MACs)'),
            ('ap_vs_latency', 'latency',
             'latency per image (ms; mean ± std over seeds)')):
        written = plot(rows, osp.join(out_dir, f'{key}.png'), x_key, label)
        if written:
            files[key] = written
    return files
