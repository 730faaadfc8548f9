"""The report's figures (pure: DataFrames in, matplotlib Figure out).

Figures are built with the object-oriented API (:class:`matplotlib.figure.Figure`, rendered by
the Agg canvas), never pyplot: nothing global is touched and a user's interactive backend is left
alone. Colours follow the Okabe-Ito palette (distinguishable with colour-vision deficiencies).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch

from studymgr.errors import InputError

if TYPE_CHECKING:
    from studymgr.compute.simulate.power import PowerResult

logger = logging.getLogger(__name__)

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
ROLE_COLORS = {"therapist": "#0072B2", "patient": "#D55E00"}
ROLE_MARKERS = {"therapist": "^", "patient": "o"}
STATUS_COLORS = {"complete": "#B7E1CD", "partial": "#FCE8B2", "empty": "#F4C7C3",
                 "missed": "#E0E0E0", "none": "#FFFFFF"}
DPI = 110
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
       "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
       "axes.spines.right": False}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def dyad_colors(dyads: Sequence[str]) -> dict[str, str]:
    """A stable colour per dyad (Okabe-Ito, then tab20 for more than eight dyads)."""
    import matplotlib

    palette = list(OKABE_ITO)
    if len(dyads) > len(palette):
        palette = [mcolors.to_hex(c) for c in matplotlib.colormaps["tab20"].colors]
    return {d: palette[i % len(palette)] for i, d in enumerate(sorted(dyads))}


def to_png(fig: Figure) -> bytes:
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def to_data_uri(fig: Figure) -> str:
    """``data:image/png;base64,...`` of a figure (for a self-contained HTML page)."""
    return "data:image/png;base64," + base64.b64encode(to_png(fig)).decode("ascii")


def _session_axis(ax, sessions: Sequence[int]) -> None:
    values = sorted({int(s) for s in sessions})
    if values:
        step = max(1, len(values) // 12)
        ax.set_xticks(values[::step])
        ax.set_xlim(min(values) - 0.3, max(values) + 0.3)
    ax.set_xlabel("Session")


# --------------------------------------------------------------------------------------------
# Study at a glance
# --------------------------------------------------------------------------------------------


def flow_diagram(steps: Sequence[tuple[str, int]],
                 exclusions: Sequence[tuple[str, int] | None]) -> Figure:
    """A CONSORT-style flow of sessions: main boxes top to bottom, exclusions to the side.

    Parameters
    ----------
    steps : sequence of (label, n)
        Boxes of the main flow.
    exclusions : sequence of (label, n) or None
        ``exclusions[i]`` leaves the flow between ``steps[i]`` and ``steps[i + 1]`` (None or
        n = 0: no side box).
    """
    n = len(steps)
    fig = _figure(7.0, 0.72 * n + 0.3)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ys = [1 - (i + 0.5) / n for i in range(n)]
    box = {"boxstyle": "round,pad=0.4", "facecolor": "#EAF2FA", "edgecolor": "#0072B2"}
    side = {"boxstyle": "round,pad=0.35", "facecolor": "#FDF1E6", "edgecolor": "#D55E00"}
    for i, ((label, count), y) in enumerate(zip(steps, ys, strict=True)):
        ax.text(0.3, y, f"{label} (n = {count})", ha="center", va="center", fontsize=9,
                bbox=box)
        if i + 1 < n:
            ax.annotate("", xy=(0.3, ys[i + 1] + 0.2 / n), xytext=(0.3, y - 0.2 / n),
                        arrowprops={"arrowstyle": "-|>", "color": "#333333"})
            exc = exclusions[i] if i < len(exclusions) else None
            if exc and exc[1]:
                ym = (y + ys[i + 1]) / 2
                ax.annotate("", xy=(0.6, ym), xytext=(0.3, ym),
                            arrowprops={"arrowstyle": "-|>", "color": "#D55E00"})
                ax.text(0.62, ym, f"{exc[0]} (n = {exc[1]})", ha="left", va="center",
                        fontsize=8.5, bbox=side, wrap=True)
    return fig


def completeness_grid(status: pd.DataFrame) -> Figure:
    """Dyad × session grid: colour = completeness, text = what is there.

    Parameters
    ----------
    status : DataFrame
        ``Study.status()``: ``dyad, session, attended, scanned, locked, scans_therapist,
        scans_patient, questionnaires, questionnaires_expected, synchrony``.
    """
    rows = status.dropna(subset=["session"]).copy()
    dyads = sorted(status["dyad"].unique())
    sessions = sorted({int(s) for s in rows["session"]})
    fig = _figure(max(6.0, 1.05 * len(sessions) + 3.4), max(2.6, 0.62 * len(dyads) + 1.2))
    ax = fig.add_subplot()
    ax.set_xlim(-0.5, max(len(sessions), 1) - 0.5)
    ax.set_ylim(len(dyads) - 0.5, -0.5)
    col_of = {s: i for i, s in enumerate(sessions)}
    row_of = {d: i for i, d in enumerate(dyads)}
    for r in rows.itertuples(index=False):
        cat, text = _cell(r)
        x, y = col_of[int(r.session)], row_of[r.dyad]
        ax.add_patch(FancyBboxPatch((x - 0.46, y - 0.42), 0.92, 0.84,
                                    boxstyle="round,pad=0,rounding_size=0.06",
                                    facecolor=STATUS_COLORS[cat], edgecolor="#999999",
                                    linewidth=0.6))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5, linespacing=1.15)
    ax.set_xticks(range(len(sessions)), [str(s) for s in sessions])
    ax.set_yticks(range(len(dyads)), dyads)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("Session")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [Patch(facecolor=STATUS_COLORS[k], edgecolor="#999999", label=label)
               for k, label in (("complete", "complete"), ("partial", "something missing"),
                                ("empty", "nothing entered"), ("missed", "did not take place"))]
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig


def _flag(value: object) -> bool:
    """A boolean-ish cell (bool, numpy bool, pandas NA, None) as a plain bool."""
    return False if value is None or pd.isna(value) else bool(value)


def _cell(r) -> tuple[str, str]:
    """Category and text of one grid cell."""
    if not pd.isna(r.attended) and not bool(r.attended):
        return "missed", "missed"
    t, p, planned = _flag(r.scans_therapist), _flag(r.scans_patient), _flag(r.scanned)
    scans = ("T" if t else "-") + ("P" if p else "-")
    got, expected = int(r.questionnaires), int(r.questionnaires_expected)
    lines = [f"scans {scans}" if planned or t or p else "no scans planned",
             f"q {got}/{expected}" if expected else "q none"]
    if not pd.isna(r.synchrony):
        lines.append(f"sync {float(r.synchrony):.2f}")
    if _flag(getattr(r, "locked", None)):
        lines.append("locked")
    scans_ok = (t and p) or not planned
    q_ok = got >= expected
    if scans_ok and q_ok and (t or p or got):
        cat = "complete"
    elif not (t or p or got):
        cat = "empty"
    else:
        cat = "partial"
    return cat, "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Data quality
# --------------------------------------------------------------------------------------------


def quality_figure(scans: pd.DataFrame, channels: pd.DataFrame, threshold: float = 0.5
                   ) -> Figure:
    """Usable channels per recording (by session and role) and the distribution of the scalp
    coupling index over all channels, with the threshold below which channels are unusable."""
    fig = _figure(9.0, 3.4)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    rng = np.random.default_rng(0)  # jitter only: fixed for identical figures
    for role, offset in (("therapist", -0.12), ("patient", 0.12)):
        part = scans.loc[(scans["role"] == role) & scans["usable_share"].notna()]
        if part.empty:
            continue
        x = part["session"].to_numpy(dtype=float) + offset + rng.uniform(-0.06, 0.06, len(part))
        ax1.scatter(x, 100 * part["usable_share"].to_numpy(dtype=float), s=22, alpha=0.8,
                    color=ROLE_COLORS[role], marker=ROLE_MARKERS[role], label=role)
    ax1.axhline(50, color="#999999", linestyle="--", linewidth=0.8)
    ax1.set_ylim(-5, 105)
    ax1.set_ylabel("Usable channels (%)")
    ax1.set_title("Usable channels per recording")
    _session_axis(ax1, scans["session"])
    if ax1.get_legend_handles_labels()[0]:
        ax1.legend(loc="lower left", frameon=False)
    else:
        ax1.text(0.5, 0.5, "No usable-channel shares stored", transform=ax1.transAxes,
                 ha="center", va="center", fontsize=9, color="#666666")
    sci = channels.dropna(subset=["sci"])
    if sci.empty:
        ax2.set_axis_off()
        ax2.text(0.5, 0.5, "No scalp coupling index stored\n(recordings without quality "
                 "measures)", ha="center", va="center", fontsize=9, color="#666666")
        return fig
    bins = np.linspace(min(0.0, float(sci["sci"].min())), 1.0, 26)
    data = [sci.loc[sci["role"] == r, "sci"].to_numpy(dtype=float) for r in ROLE_COLORS]
    ax2.hist(data, bins=bins, stacked=True, color=list(ROLE_COLORS.values()),
             label=list(ROLE_COLORS), edgecolor="white", linewidth=0.4)
    ax2.axvline(threshold, color="#333333", linestyle="--", linewidth=1)
    below = int((sci["sci"] < threshold).sum())
    ax2.text(threshold, ax2.get_ylim()[1] * 0.95, f"  threshold {threshold:g}\n  "
             f"{below} of {len(sci)} channels below", va="top", ha="left", fontsize=8)
    ax2.set_xlabel("Scalp coupling index")
    ax2.set_ylabel("Channels")
    ax2.set_title("Scalp coupling index, all channels")
    ax2.legend(loc="upper left", frameon=False)
    return fig


# --------------------------------------------------------------------------------------------
# Synchrony
# --------------------------------------------------------------------------------------------


def synchrony_figure(true: pd.DataFrame, pseudo: pd.DataFrame, band: pd.DataFrame | None,
                     chromophore: str = "hbo", ylabel: str | None = None) -> Figure:
    """Synchrony over sessions: one line per dyad with the model-implied mean and its 95%
    confidence band (left), the pseudo-dyad baseline on the same scale (right).

    Parameters
    ----------
    true : DataFrame
        ``dyad, session, synchrony`` of the true pairs.
    pseudo : DataFrame
        ``dyad, session, synchrony_pseudo`` (the session's mean over its pseudo pairs).
    band : DataFrame or None
        ``session, estimate, ci_low, ci_high`` from the growth model.
    chromophore : str
        Named in the default y label.
    ylabel : str or None
        The y label (default: wavelet coherence of the chromophore); the values in ``true``
        are plotted whatever they measure (e.g. EEG coupling, frontal alpha asymmetry).
    """
    fig = _figure(9.5, 3.9)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    colors = dyad_colors(list(true["dyad"].unique()))
    for dyad, part in true.sort_values("session").groupby("dyad"):
        ax1.plot(part["session"], part["synchrony"], marker="o", markersize=3.5, linewidth=1.2,
                 color=colors[dyad], alpha=0.85, label=str(dyad))
    if band is not None and len(band):
        ax1.fill_between(band["session"], band["ci_low"], band["ci_high"], color="#333333",
                         alpha=0.18, linewidth=0)
        ax1.plot(band["session"], band["estimate"], color="black", linewidth=2.4)
    chroma = {"hbo": "HbO", "hbr": "HbR"}.get(chromophore, chromophore)
    ax1.set_title("True dyads")
    ax1.set_ylabel(ylabel or f"Synchrony (wavelet coherence, {chroma})")
    _session_axis(ax1, true["session"])
    for _dyad, part in pseudo.sort_values("session").groupby("dyad"):
        ax2.plot(part["session"], part["synchrony_pseudo"], marker="o", markersize=3,
                 linewidth=1, color="#888888", alpha=0.7)
    if len(pseudo):
        mean = pseudo.groupby("session")["synchrony_pseudo"].mean()
        ax2.plot(mean.index, mean.to_numpy(), color="black", linewidth=2, linestyle="--")
    ax2.set_title("Pseudo-dyads")
    _session_axis(ax2, pseudo["session"] if len(pseudo) else true["session"])
    handles = [Line2D([], [], color=colors[d], marker="o", markersize=3.5, label=d)
               for d in sorted(colors)] if len(colors) <= 12 else []
    if band is not None and len(band):
        handles.append(Line2D([], [], color="black", linewidth=2.4,
                              label="model mean (95% CI)"))
    if handles:
        ax1.legend(handles=handles, loc="upper left", frameon=False, ncol=2 if len(handles) > 6
                   else 1)
    ax2.legend(handles=[Line2D([], [], color="#888888", label="pseudo pairs (per dyad)"),
                        Line2D([], [], color="black", linestyle="--", label="mean")],
               loc="upper left", frameon=False)
    return fig


def roi_heatmaps(mean: pd.DataFrame, slope: pd.DataFrame | None, p_fdr: pd.DataFrame | None
                 ) -> Figure:
    """Per ROI pair (therapist ROI rows × patient ROI columns): mean synchrony, and the growth
    slope with marks for Benjamini-Hochberg adjusted p (``*`` < .05, ``**`` < .01,
    ``***`` < .001).

    Parameters
    ----------
    mean : DataFrame
        Matrix of mean true-pair synchrony (index therapist ROI, columns patient ROI).
    slope, p_fdr : DataFrame or None
        Matrices of the growth slope per session and its adjusted p (same layout).
    """
    panels = 2 if slope is not None and not slope.empty else 1
    n_t, n_p = mean.shape
    size = max(3.2, 0.55 * max(n_t, n_p) + 2.0)
    fig = _figure(size * panels + 0.6, size)
    axes = np.atleast_1d(fig.subplots(1, panels))
    annotate = max(n_t, n_p) <= 12
    im = axes[0].imshow(mean.to_numpy(dtype=float), cmap="viridis", aspect="equal")
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="Mean synchrony (coherence)")
    axes[0].set_title("Mean synchrony, true pairs")
    if annotate:
        _annotate(axes[0], mean.to_numpy(dtype=float), "{:.2f}", im)
    if panels == 2:
        values = slope.reindex(index=mean.index, columns=mean.columns).to_numpy(dtype=float)
        limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
        im2 = axes[1].imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="equal")
        fig.colorbar(im2, ax=axes[1], shrink=0.8, label="Growth slope (per session)")
        axes[1].set_title("Growth per session")
        if annotate:
            marks = None
            if p_fdr is not None:
                marks = p_fdr.reindex(index=mean.index, columns=mean.columns).to_numpy(
                    dtype=float)
            _annotate(axes[1], values, "{:+.3f}", im2, marks)
    for ax in axes:
        ax.set_xticks(range(n_p), list(mean.columns), rotation=45, ha="right")
        ax.set_yticks(range(n_t), list(mean.index))
        ax.set_xlabel("Patient ROI")
        ax.set_ylabel("Therapist ROI")
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig


def stars(p: float) -> str:
    """``***`` p < .001, ``**`` < .01, ``*`` < .05, else empty."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _annotate(ax, values: np.ndarray, fmt: str, im, marks: np.ndarray | None = None) -> None:
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="#666666")
                continue
            rgba = im.cmap(im.norm(v))
            light = (0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]) > 0.55
            text = fmt.format(v)
            if marks is not None:
                text += stars(marks[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=7.5,
                    color="black" if light else "white")


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


def outcome_trajectories(table: pd.DataFrame, measures: Sequence[tuple[str, str]]) -> Figure:
    """One panel per measure: a thin line per dyad and the mean over dyads (± 1 SE).

    Parameters
    ----------
    table : DataFrame
        The analysis table (``dyad, session`` and the measure columns).
    measures : sequence of (column, label)
    """
    n = len(measures)
    cols = 2 if n > 1 else 1
    rows = int(np.ceil(n / cols))
    fig = _figure(4.6 * cols, 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    colors = dyad_colors(list(table["dyad"].unique()))
    for ax, (col, label) in zip(axes, measures, strict=False):
        part = table[["dyad", "session", col]].dropna()
        for dyad, d in part.sort_values("session").groupby("dyad"):
            ax.plot(d["session"], d[col], color=colors[dyad], alpha=0.55, linewidth=1,
                    marker="o", markersize=2.5)
        stats = part.groupby("session")[col].agg(["mean", "std", "count"])
        se = stats["std"] / np.sqrt(stats["count"])
        ax.errorbar(stats.index, stats["mean"], yerr=se.fillna(0), color="black", linewidth=2,
                    capsize=2.5, marker="s", markersize=4, label="mean ± SE")
        ax.set_title(label)
        ax.set_ylabel("Score")
        _session_axis(ax, part["session"])
    for ax in axes[n:]:
        ax.set_axis_off()
    if n:
        handles = [Line2D([], [], color="black", linewidth=2, marker="s", markersize=4,
                          label="mean ± SE")]
        if len(colors) <= 10:
            handles += [Line2D([], [], color=colors[d], alpha=0.7, label=d)
                        for d in sorted(colors)]
        fig.legend(handles=handles, loc="outside right upper", frameon=False)
    return fig


def forest_plot(rows: pd.DataFrame) -> Figure:
    """Coefficients with 95% confidence intervals, one panel per outcome (stacked).

    Parameters
    ----------
    rows : DataFrame
        ``panel, label, estimate, ci_low, ci_high, p`` (one row per coefficient; within a panel
        the rows are drawn top to bottom in the given order).
    """
    panels = list(dict.fromkeys(rows["panel"]))
    sizes = [max(int((rows["panel"] == p).sum()), 1) for p in panels]
    fig = _figure(7.5, 0.32 * sum(sizes) + 0.75 * len(panels) + 0.4)
    axes = np.atleast_1d(fig.subplots(len(panels), 1, squeeze=False,
                                      gridspec_kw={"height_ratios": sizes})).ravel()
    for ax, panel in zip(axes, panels, strict=True):
        part = rows.loc[rows["panel"] == panel].reset_index(drop=True)
        ax.axvline(0, color="#999999", linewidth=0.8)
        for y, r in enumerate(part.itertuples(index=False)):
            significant = np.isfinite(r.p) and r.p < 0.05
            color = "#0072B2" if significant else "#555555"
            ax.plot([r.ci_low, r.ci_high], [y, y], color=color, linewidth=1.6)
            ax.plot(r.estimate, y, marker="o", color=color, markersize=5)
            ax.annotate(_p_text(r.p), (1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(6, 0), textcoords="offset points", va="center", fontsize=8,
                        color=color)
        ax.set_yticks(range(len(part)), list(part["label"]))
        ax.set_ylim(len(part) - 0.5, -0.5)
        ax.set_title(panel, loc="left", fontsize=9.5, fontweight="bold")
    axes[-1].set_xlabel("Change in outcome (scale units) per within-dyad SD of the predictor")
    return fig


def _p_text(p: float) -> str:
    from studymgr.present.tables import fmt_p

    text = fmt_p(p)
    return f"p {text}" if text.startswith(("<", ">")) else f"p = {text}" if text else ""


# --------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------


def diagnostics_figure(models: Sequence[tuple[str, pd.DataFrame, tuple, pd.DataFrame]]
                       ) -> Figure:
    """One row per model: residuals against fitted values, a normal QQ plot of the
    standardised residuals, and the random effects per dyad with 95% conditional intervals.

    Parameters
    ----------
    models : sequence of (title, rows, qq, effects)
        ``rows``: ``group, fitted, residual`` (conditional); ``qq``: ``(theoretical,
        ordered)`` from :func:`studymgr.present.report.diagnostics.normal_quantiles`; ``effects``:
        ``group, term, estimate, ci_low, ci_high``.
    """
    n_terms = max(len(set(m[3]["term"])) for m in models)
    n_cols = 2 + n_terms
    fig = _figure(2.9 * n_cols, 2.5 * len(models) + 0.3)
    grid = np.atleast_2d(fig.subplots(len(models), n_cols, squeeze=False))
    for axes, (title, rows, qq, effects) in zip(grid, models, strict=True):
        ax = axes[0]
        ax.scatter(rows["fitted"], rows["residual"], s=12, color="#0072B2", alpha=0.75)
        ax.axhline(0, color="#999999", linewidth=0.8)
        ax.set_xlabel("Fitted value")
        ax.set_ylabel("Residual")
        ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
        ax = axes[1]
        theo, sample = qq
        ax.scatter(theo, sample, s=12, color="#0072B2", alpha=0.75)
        if len(theo):
            lim = [min(theo.min(), sample.min()), max(theo.max(), sample.max())]
            ax.plot(lim, lim, color="#999999", linewidth=0.8)
        ax.set_xlabel("Normal quantile")
        ax.set_ylabel("Standardised residual")
        ax.set_title("Normal QQ plot", fontsize=9)
        terms = list(dict.fromkeys(effects["term"]))
        for ax, term in zip(axes[2:], terms, strict=False):
            part = effects.loc[effects["term"] == term].sort_values("estimate")
            y = np.arange(len(part))
            ax.errorbar(part["estimate"], y, xerr=[part["estimate"] - part["ci_low"],
                                                   part["ci_high"] - part["estimate"]],
                        fmt="o", color="#009E73", markersize=4, capsize=2, linewidth=1)
            ax.axvline(0, color="#999999", linewidth=0.8)
            ax.set_yticks(y, list(part["group"]))
            ax.set_xlabel("Deviation from the mean")
            what = "intercepts" if term == "(Intercept)" else f"{term} slopes"
            ax.set_title(f"Dyad {what}", fontsize=9)
        for ax in axes[2 + len(terms):]:
            ax.set_axis_off()
    return fig


# --------------------------------------------------------------------------------------------
# Moments of interest
# --------------------------------------------------------------------------------------------


def faa_figure(asymmetry: pd.DataFrame, conditions: Sequence[str],
               headers: Sequence[str] | None = None) -> Figure:
    """Frontal alpha asymmetry per condition and person: one point per session (and electrode
    pair), a short horizontal line at their mean.

    Parameters
    ----------
    asymmetry : DataFrame
        ``role, condition, value`` (as ``Study.eeg_asymmetry()`` returns it).
    conditions : sequence of str
        The conditions, in the order drawn.
    headers : sequence of str, optional
        Their axis labels (default: the conditions).
    """
    roles = sorted(dict.fromkeys(asymmetry["role"]), key=lambda r: (r != "therapist", r))
    fig = _figure(max(4.0, 1.2 * len(conditions) + 2.0), 3.0)
    ax = fig.subplots()
    ax.axhline(0, color="#999999", linewidth=0.8, linestyle=":")
    width = 0.3 if len(roles) > 1 else 0.0
    handles = []
    for i, role in enumerate(roles):
        color = ROLE_COLORS.get(role, OKABE_ITO[(i + 2) % len(OKABE_ITO)])
        marker = ROLE_MARKERS.get(role, "s")
        offset = (i - (len(roles) - 1) / 2) * width
        for k, cond in enumerate(conditions):
            values = asymmetry.loc[(asymmetry["role"] == role)
                                   & (asymmetry["condition"] == cond), "value"]
            values = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
            if not values.size:
                continue
            # a small fixed spread keeps sessions with equal values apart, reproducibly
            x = k + offset + np.linspace(-0.06, 0.06, values.size) * (values.size > 1)
            ax.scatter(x, values, s=16, marker=marker, color=color, alpha=0.7, linewidths=0)
            ax.plot([k + offset - 0.12, k + offset + 0.12], [values.mean()] * 2, color=color,
                    linewidth=2)
        handles.append(Line2D([], [], color=color, marker=marker, linestyle="none",
                              label=role.capitalize()))
    ax.set_xticks(range(len(conditions)), list(headers or conditions))
    ax.set_xlim(-0.6, len(conditions) - 0.4)
    ax.set_ylabel("FAA (ln right − ln left alpha power)")
    if handles:
        ax.legend(handles=handles, frameon=False, loc="best")
    return fig


def rc() -> dict:
    """The rcParams used for every figure (apply with ``matplotlib.rc_context(rc())``)."""
    return dict(_RC)


# -- a session timeline: coherence and the raters' marks ------------------------------------------
#: Colours of the moments' labels in :func:`moments_figure` (colour-blind safe, Okabe-Ito);
#: other labels take the next of ``_OTHER_COLORS``.
LABEL_COLORS = {"MOI": "#D55E00", "MONI": "#0072B2"}
_OTHER_COLORS = ["#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def moments_figure(events: pd.DataFrame, timecourse: pd.DataFrame | None = None, *,
                   window: tuple[float, float] = (-15.0, 15.0), title: str | None = None,
                   duration_s: float | None = None) -> Figure:
    """A session timeline: the coherence time course above, the raters' marks under it.

    Parameters
    ----------
    events : DataFrame
        The session's events as :meth:`Study.events` returns them (``onset_s, duration_s, label,
        rater, source``); rater marks are drawn one row per rater, consensus moments on their
        own row and as shaded windows on the time course.
    timecourse : DataFrame | None
        ``time_s, value`` (e.g. :meth:`Timecourses.frame` of the session level, one
        chromophore); None draws the marks only.
    window : (float, float)
        The analysis window around each moment (s), shaded on the time course.
    title : str | None
        Figure title.
    duration_s : float | None
        Right end of the time axis (default: the time course's or the last event's end).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from studymgr.compute.events.agreement import check_window

    window = check_window(window)
    marks = events[events["source"].isin(["rater", "consensus"])].copy()
    raters = sorted(marks.loc[marks["source"] == "rater", "rater"].dropna().unique())
    rows = [*raters, "consensus"]
    labels = sorted(marks["label"].unique())
    colors = {lab: LABEL_COLORS.get(lab, _OTHER_COLORS[i % len(_OTHER_COLORS)])
              for i, lab in enumerate(labels)}
    has_tc = timecourse is not None and len(timecourse) > 0
    fig = Figure(figsize=(8.0, 2.2 + 0.25 * len(rows) + (1.8 if has_tc else 0.0)), dpi=110,
                 layout="constrained")
    if has_tc:
        ax_tc, ax_marks = fig.subplots(2, 1, sharex=True,
                                       gridspec_kw={"height_ratios": [2.0, 0.6 + 0.2 * len(rows)]})
    else:
        ax_tc, ax_marks = None, fig.subplots(1, 1)
    consensus = marks[marks["source"] == "consensus"]
    if ax_tc is not None:
        ax_tc.plot(timecourse["time_s"], timecourse["value"], color="#333333", lw=0.8)
        for r in consensus.itertuples():
            ax_tc.axvspan(r.onset_s + window[0], r.onset_s + window[1],
                          color=colors.get(r.label, "#999999"), alpha=0.18, lw=0)
        ax_tc.set_ylabel("Coherence (R²)")
        ax_tc.set_ylim(0, 1)
        ax_tc.spines[["top", "right"]].set_visible(False)
    for i, who in enumerate(rows):
        part = consensus if who == "consensus" else marks[(marks["source"] == "rater")
                                                          & (marks["rater"] == who)]
        for r in part.itertuples():
            color = colors.get(r.label, "#999999")
            if r.duration_s and r.duration_s > 0:
                ax_marks.plot([r.onset_s, r.onset_s + r.duration_s], [i, i], color=color, lw=4)
            ax_marks.plot([r.onset_s], [i], marker="D" if who == "consensus" else "|",
                          ms=7 if who == "consensus" else 12, mew=2, color=color, ls="none")
    ax_marks.set_yticks(range(len(rows)), rows)
    ax_marks.set_ylim(len(rows) - 0.5, -0.5)
    ax_marks.set_xlabel("Time from the start of the recording (s)")
    ax_marks.spines[["top", "right"]].set_visible(False)
    end = duration_s
    if end is None:
        ends = [float((marks["onset_s"] + marks["duration_s"]).max())] if len(marks) else [1.0]
        if has_tc:
            ends.append(float(timecourse["time_s"].max()))
        end = max(ends)
    ax_marks.set_xlim(0, max(end, 1.0))
    if labels:
        handles = [Line2D([], [], color=colors[lab], marker="|", ls="none", ms=10, mew=2,
                          label=lab) for lab in labels]
        ax_marks.legend(handles=handles, loc="upper right", frameon=False, ncols=len(labels),
                        bbox_to_anchor=(1.0, 1.35))
    if title:
        fig.suptitle(title)
    return fig


def plot_power(result: PowerResult, path: str | Path | None = None) -> Figure:
    """Rejection rate against planted growth, one panel per test (matplotlib, Agg).

    Power curves with their 95 % intervals, the false-positive rate at zero effect, and
    reference lines at ``alpha`` and 0.8.

    Parameters
    ----------
    result : PowerResult
    path : str | pathlib.Path | None
        Write the figure there (PNG, or any format matplotlib infers from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    summary = result.summary
    alpha = result.config.get("alpha", 0.05)
    outcome = result.config.get("design", {}).get("outcome", "symptoms").replace("_", " ")
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    slope = result.config.get("design", {}).get("slope")
    panels = [("growth", "Growth: synchrony ~ session"),
              ("outcome", f"Outcome: {outcome} ~ synchrony within dyad (slope {slope:g})")]
    values = sorted(set(summary["growth"].astype(float)))
    span = (values[-1] - values[0]) or max(abs(values[0]), 0.01)
    for ax, (test, title) in zip(axes, panels, strict=True):
        part = summary[summary["test"] == test]
        for shift, (kind, label, marker) in zip(
                (-0.015, 0.015), (("power", "power", "o"),
                                  ("false_positive_rate", "false-positive rate", "s")),
                strict=True):
            rows = part[part["kind"] == kind].sort_values("growth")
            if rows.empty:
                continue
            # a small sideways shift keeps power and false-positive rate at one growth apart
            x = rows["growth"].to_numpy(dtype=float) + shift * span
            err = np.vstack([rows["rate"] - rows["ci_low"], rows["ci_high"] - rows["rate"]])
            ax.errorbar(x, rows["rate"], yerr=err, marker=marker, capsize=3, label=label,
                        linestyle="-" if len(rows) > 1 else "none")
        ax.axhline(alpha, color="grey", linestyle=":", linewidth=1)
        ax.axhline(0.8, color="grey", linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("planted growth (coupling per session)")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.set_xlim(values[0] - 0.15 * span, values[-1] + 0.15 * span)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel(f"rejection rate (p < {alpha:g})")
    design = result.config.get("design", {})
    scanned = design.get("scanned")
    fig.suptitle(f"{design.get('n_dyads')} dyads x {design.get('n_sessions')} sessions"
                 f"{'' if scanned is None else ' (scanned ' + ','.join(map(str, scanned)) + ')'}"
                 f", {result.config.get('reps')} repetitions", fontsize=10)
    if path is not None:
        out = Path(path)
        if not out.parent.is_dir():
            raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
        try:
            fig.savefig(out, dpi=120)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot write the plot to {out}: {exc}") from None
        logger.info("wrote %s", out)
    return fig
