"""PNG output of the analysis tools (matplotlib, Agg backend; overlays with
OpenCV so that they keep the input's exact size)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .attention_maps import AttentionRecord, dca_connections, select_evenly


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    return plt


def _ensure_dir(path: str) -> None:
    import os
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)


def _save_figure(plt, figure, path: str, tight: bool = True) -> str:
    """Write ``figure`` as a PNG at ``path`` and close it."""
    if tight:
        figure.tight_layout()
    _ensure_dir(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def colorize(values: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 RGB with the 'jet' map."""
    import cv2
    scaled = np.clip(values * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_JET),
                        cv2.COLOR_BGR2RGB)


def overlay(image_rgb: np.ndarray, heatmap: np.ndarray,
            alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] heatmap (resized to the image) over an RGB image."""
    import cv2
    height, width = image_rgb.shape[:2]
    if heatmap.shape != (height, width):
        heatmap = cv2.resize(heatmap.astype(np.float32), (width, height),
                             interpolation=cv2.INTER_LINEAR)
    blended = (1 - alpha) * image_rgb.astype(np.float32) + \
        alpha * colorize(heatmap).astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def save_rgb(path: str, image_rgb: np.ndarray) -> str:
    """Write an RGB uint8 image as PNG, pixel for pixel."""
    import cv2
    _ensure_dir(path)
    if not cv2.imwrite(path, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'cannot write {path}')
    return path


def save_overlay(path: str, image_rgb: np.ndarray, heatmap: np.ndarray,
                 alpha: float = 0.5) -> str:
    """Grad-CAM style PNG: ``heatmap`` over ``image_rgb``, at the image's
    size."""
    return save_rgb(path, overlay(image_rgb, heatmap, alpha))


def _panel_grid(plt, count: int, max_columns: int,
                panel_size: Tuple[float, float]):
    """A figure of ``count`` panels in rows of up to ``max_columns``; the
    grid's spare cells are hidden. Returns the figure and the panels."""
    columns = min(max_columns, max(1, count))
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(
        rows, columns,
        figsize=(panel_size[0] * columns, panel_size[1] * rows),
        squeeze=False)
    for axis in axes.flat[count:]:
        axis.axis('off')
    return figure, list(axes.flat[:count])


def _short(path: str) -> str:
    """'backbone.layer3.5.cbam' -> 'layer3.5.cbam'."""
    return path[len('backbone.'):] if path.startswith('backbone.') else path


def plot_spatial_maps(path: str, image_rgb: np.ndarray,
                      records: List[AttentionRecord],
                      max_maps: Optional[int] = 8,
                      title: str = '') -> str:
    """The input and the spatial attention maps of (at most ``max_maps``,
    evenly chosen) modules, batch element 0: over the input on a fixed
    [0, 1] scale (top), and at their own resolution with colours stretched
    to each map's range (bottom)."""
    plt = _pyplot()
    chosen = select_evenly(records, max_maps)
    columns = 1 + len(chosen)
    figure, axes = plt.subplots(2, columns, figsize=(2.4 * columns, 5),
                                squeeze=False)
    axes[0, 0].imshow(image_rgb)
    axes[0, 0].set_title('input', fontsize=8)
    axes[1, 0].axis('off')
    axes[0, 0].axis('off')
    for column, record in enumerate(chosen, 1):
        values = record.value[0].numpy()
        axes[0, column].imshow(overlay(image_rgb, values))
        axes[0, column].set_title(
            f'{record.source}\n{_short(record.module)}', fontsize=7)
        axes[0, column].axis('off')
        axes[1, column].imshow(values, cmap='jet')
        axes[1, column].set_title(
            f'{values.shape[0]}×{values.shape[1]}, colours from\n'
            f'{values.min():.3f} to {values.max():.3f}', fontsize=7)
        axes[1, column].axis('off')
    if title:
        figure.suptitle(title, fontsize=9)
    return _save_figure(plt, figure, path, tight=False)


def plot_channel_scales(path: str, records: List[AttentionRecord],
                        max_panels: Optional[int] = 8,
                        title: str = '') -> str:
    """Channel scale vs channel index per module (batch mean), as the EMCA
    paper's Fig. 6: one panel per module."""
    plt = _pyplot()
    chosen = select_evenly(records, max_panels)
    figure, panels = _panel_grid(plt, len(chosen), 4, (3.6, 2.6))
    for axis, record in zip(panels, chosen):
        scales = record.value.mean(0).numpy()
        axis.plot(np.arange(len(scales)), scales, linewidth=0.8)
        axis.axhline(float(scales.mean()), color='tab:red', linewidth=0.8,
                     linestyle='--', label=f'mean {scales.mean():.2f}')
        axis.set_ylim(0, 1)
        axis.set_xlim(0, len(scales) - 1)
        axis.set_title(f'{record.source} {_short(record.module)}',
                       fontsize=8)
        axis.set_xlabel('channel', fontsize=7)
        axis.set_ylabel('scale', fontsize=7)
        axis.tick_params(labelsize=6)
        axis.legend(fontsize=6, loc='upper right')
    if title:
        figure.suptitle(title, fontsize=9)
    return _save_figure(plt, figure, path)


def plot_dca_ratios(path: str, records: List[AttentionRecord],
                    title: str = '') -> str:
    """The previous attention's contribution per connection (the DCA paper's
    Fig. 5): bars = |α|/(|w|+|α|) from the learned scalars (the paper's
    definition), dots = mean|αT̃|/(mean|wG|+mean|αT̃|) measured on the
    input; one group per connected dimension (channel, spatial, SK branch)."""
    plt = _pyplot()
    rows = dca_connections(records)
    links: Dict[str, List[dict]] = {}
    for row in rows:
        links.setdefault(row['link'], []).append(row)
    figure, axis = plt.subplots(figsize=(max(6, 0.45 * len(rows) + 2), 4.2))
    width = 0.8 / max(1, len(links))
    for offset, (link, items) in enumerate(links.items()):
        positions = np.array([r['connection'] for r in items], dtype=float)
        positions += (offset - (len(links) - 1) / 2) * width
        bars = axis.bar(positions, [r['weight_ratio'] for r in items],
                        width=width * 0.9, alpha=0.6,
                        label=f'{link}: weights |α|/(|w|+|α|)')
        axis.plot(positions, [r['activation_ratio'] for r in items], 'o',
                  color=bars.patches[0].get_facecolor()[:3] if bars.patches
                  else None, markeredgecolor='black', markersize=4,
                  label=f'{link}: activations |αT̃|/(|wG|+|αT̃|)')
    connections = sorted({r['connection'] for r in rows})
    axis.set_xticks(connections)
    axis.set_xlabel('connection', fontsize=8)
    axis.set_ylabel('share of the previous attention', fontsize=8)
    axis.set_ylim(0, 1)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=6, loc='upper center', bbox_to_anchor=(0.5, -0.2),
                ncol=2)
    if title:
        axis.set_title(title, fontsize=9)
    return _save_figure(plt, figure, path)


def plot_curves(path: str, series: Sequence[Dict], keys: Sequence[str],
                x_label: str = 'step') -> str:
    """One panel per scalar key; ``series`` items are
    ``dict(label=..., data={key: (xs, ys)})``."""
    plt = _pyplot()
    figure, panels = _panel_grid(plt, len(keys), 3, (4.2, 3))
    for axis, key in zip(panels, keys):
        for item in series:
            xs, ys = item['data'].get(key, ([], []))
            if len(xs):
                marker = 'o' if len(xs) < 30 else None
                axis.plot(xs, ys, marker=marker, markersize=3, linewidth=1,
                          label=item['label'])
        axis.set_title(key, fontsize=9)
        axis.set_xlabel(x_label, fontsize=8)
        axis.tick_params(labelsize=7)
        if key == 'lr' or key.endswith('/lr'):
            axis.ticklabel_format(axis='y', style='sci', scilimits=(-2, 2))
        if len(series) > 1:
            axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    return _save_figure(plt, figure, path)
