"""Drawing only (the maths is in sweep.pareto): PNG figures with matplotlib."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def pareto_png(points: pd.DataFrame, front: pd.DataFrame, metric: str, time: str,
               maximise: bool, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    col = f"val_{metric}"
    for arch, g in points.groupby("architecture", sort=True):
        ax.scatter(g[time], g[col], s=18, alpha=0.7, label=arch)
    if not front.empty:
        f = front.sort_values(time)
        ax.step(f[time], f[col], where="post", color="black", lw=1.2, label="frontier")
        knee = f[f["is_knee"]]
        ax.scatter(knee[time], knee[col], marker="*", s=220, color="red", zorder=5, label="knee")
    ax.set_xscale("log")
    ax.set_xlabel(f"{time} (log scale)")
    ax.set_ylabel(f"validation {metric} ({'higher' if maximise else 'lower'} is better)")
    ax.set_title("Pareto frontier: validation metric against training time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def learning_curves_png(curves: pd.DataFrame, slopes: pd.DataFrame, metric: str, time: str,
                        path: Path, top: int | None = None) -> Path:
    """Learning curves (metric against n_train, with 95% bands when there are seeds) and cost
    curves (time against n_train, log-log, with each architecture's cost growth, sweep.growth)."""
    plt = _plt()
    col = f"val_{metric}"
    slope = dict(zip(slopes["architecture"], slopes["slope"]))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    for arch, c in curves.groupby("architecture", sort=True):
        early = top is not None and len(c) and int(c["n_train"].iloc[-1]) < top
        line = a1.plot(c["n_train"], c[col], marker="o",
                       label=f"{arch} (stopped after n={int(c['n_train'].iloc[-1])})" if early else arch)[0]
        if early:
            a1.plot(c["n_train"].iloc[-1:], c[col].iloc[-1:], marker="X", markersize=11, color=line.get_color())
        a1.fill_between(c["n_train"], c[col] - c[f"{col}_ci"], c[col] + c[f"{col}_ci"],
                        color=line.get_color(), alpha=0.2)
        a2.errorbar(c["n_train"], c[time], yerr=c[f"{time}_ci"], marker="o", color=line.get_color(),
                    label=f"{arch} (slope {slope.get(arch, float('nan')):.2f})")
    a1.set_xlabel("n_train")
    a1.set_ylabel(f"validation {metric}")
    a1.set_title("Learning curves (best configuration per architecture)")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("n_train")
    a2.set_ylabel(time)
    a2.set_title("Cost curves (log-log; slope: the median of its configurations' growth)")
    for a in (a1, a2):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["pareto_png", "learning_curves_png"]
