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


def learning_curves_png(points: pd.DataFrame, metric: str, maximise: bool, path: Path) -> Path:
    """Per architecture, its best configuration (at its largest rung): metric and time against n_train."""
    plt = _plt()
    col = f"val_{metric}"
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    for arch, g in points.groupby("architecture", sort=True):
        top = g[g["n_train"] == g["n_train"].max()]
        if top.empty:
            continue
        best_id = top.sort_values(col, ascending=not maximise).iloc[0]["config_id"]
        c = g[g["config_id"] == best_id].sort_values("n_train")
        a1.plot(c["n_train"], c[col], marker="o", label=arch)
        a2.plot(c["n_train"], c["train_time_s"], marker="o", label=arch)
    a1.set_xlabel("n_train")
    a1.set_ylabel(f"validation {metric}")
    a1.set_title("Learning curves (best configuration per architecture)")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("n_train")
    a2.set_ylabel("train_time_s")
    a2.set_title("Cost curves")
    for a in (a1, a2):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["pareto_png", "learning_curves_png"]
