"""Results of an evaluation as files a reviewer reads: CSV, JSON, ``summary.md`` and PNG plots.

Written into the results folder next to ``episodes/``::

    episodes.csv      one row per episode (scenario, controller, seed, every metric, wall time)
    summary.csv       per scenario x controller x metric: mean, 95% CI, n, and the paired difference
    summary.json        vs the reference controller (mean, 95% CI, %)
    summary.md        markdown tables to paste into a review or BENCHMARKS.md
    plots/<scenario>_metrics.png     bars with 95% CIs, one panel per metric
    plots/<scenario>_queue.png       halting vehicles over time (mean over seeds) per controller
    plots/<scenario>_throughput.png  arrived vehicles over time (mean over seeds) per controller
    sensing.md, plots/<scenario>_sensing.png   with controllers under a sensing model: delay
                      against penetration per sweep line, the other controllers as references
    tradeoff.md       delay, CO2 and stops per vehicle, with the delay-CO2 frontier (issue 18)
    plots/tradeoff.png               delay against CO2 per vehicle, coloured by stops, per scenario
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from core.files import atomic_write_text
from evaluation.config import EvalConfig
from evaluation.harness import load_records
from evaluation.metrics import METRICS
from evaluation.stats import mean_ci, paired_diff

MD_METRICS = (
    "delay",
    "travel_time",
    "waiting_time",
    "stops",
    "queue",
    "throughput",
    "unfinished",
    "never_inserted",
    "teleports",
    "co2",
    "fuel",
)
PLOT_METRICS = ("delay", "travel_time", "waiting_time", "stops", "queue", "throughput", "backlog", "co2")


def summarise(records: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    """Per scenario x controller x metric: mean/CI and the paired difference vs ``reference``."""
    by: dict[tuple[str, str], dict[int, dict[str, float]]] = defaultdict(dict)
    for r in records:
        by[(r["scenario"], r["controller"])][r["seed"]] = r["metrics"]
    rows = []
    for (scenario, controller), seeds in by.items():
        ref = by.get((scenario, reference))
        for metric in METRICS:
            values = {s: m.get(metric, math.nan) for s, m in seeds.items()}  # nan: older records
            mean, ci, n = mean_ci([values[s] for s in sorted(values)])
            row = {
                "scenario": scenario,
                "controller": controller,
                "metric": metric,
                "mean": mean,
                "ci95": ci,
                "n": n,
                "diff": math.nan,
                "diff_ci95": math.nan,
                "diff_pct": math.nan,
            }
            if ref is not None and controller != reference:
                ref_values = {s: m.get(metric, math.nan) for s, m in ref.items()}
                d, dci, _ = paired_diff(values, ref_values)
                ref_mean = mean_ci([ref_values[s] for s in sorted(set(values) & set(ref_values))])[0]
                row.update(diff=d, diff_ci95=dci, diff_pct=100.0 * d / ref_mean if ref_mean else math.nan)
            rows.append(row)
    return rows


def _fmt(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def _pm(mean: float, ci: float) -> str:
    digits = 2 if abs(mean) < 10 else 1
    return _fmt(mean, digits) if math.isnan(ci) else f"{_fmt(mean, digits)} ± {_fmt(ci, digits)}"


def markdown(
    rows: list[dict[str, Any]], reference: str, controllers: list[str], wall: dict[tuple[str, str], float]
) -> str:
    """The ``summary.md`` text: one table per scenario, plus the paired differences."""
    idx = {(r["scenario"], r["controller"], r["metric"]): r for r in rows}
    scenarios = sorted({r["scenario"] for r in rows})
    out = [
        "# Evaluation summary",
        "",
        "Mean ± 95% CI (Student t) over seeds. Delay and travel time count every vehicle "
        "whose departure was due: unfinished trips up to the end and vehicles that never "
        "entered from their planned departure (see evaluation/metrics.py). "
        f"Paired differences are per seed against `{reference}`.",
        "",
    ]
    for scenario in scenarios:
        present = [c for c in controllers if (scenario, c, "delay") in idx]
        n = max((idx[(scenario, c, "delay")]["n"] for c in present), default=0)
        out += [f"## {scenario} ({n} seeds)", ""]
        head = (
            ["controller"]
            + [f"{METRICS[m][0]} ({METRICS[m][1]})" if METRICS[m][1] else METRICS[m][0] for m in MD_METRICS]
            + ["wall s/episode"]
        )
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in present:
            cells = (
                [f"`{c}`"]
                + [_pm(idx[(scenario, c, m)]["mean"], idx[(scenario, c, m)]["ci95"]) for m in MD_METRICS]
                + [_fmt(wall.get((scenario, c), math.nan), 0)]
            )
            out.append("| " + " | ".join(cells) + " |")
        others = [c for c in present if c != reference]
        if (scenario, reference, "delay") in idx and others:
            out += [
                "",
                f"Paired difference vs `{reference}` (negative delay = better):",
                "",
                "| controller | Δ delay (s/veh) | Δ delay % | Δ travel time (s/veh) | "
                "Δ throughput (veh) | better on delay? |",
                "|---|---|---|---|---|---|",
            ]
            for c in others:
                d, t, q = (idx[(scenario, c, m)] for m in ("delay", "travel_time", "throughput"))
                sig = (
                    "yes"
                    if d["diff"] + d["diff_ci95"] < 0
                    else "no (worse)"
                    if d["diff"] - d["diff_ci95"] > 0
                    else "not significant"
                )
                if math.isnan(d["diff_ci95"]):
                    sig = "yes" if d["diff"] < 0 else "no"
                out.append(
                    f"| `{c}` | {_pm(d['diff'], d['diff_ci95'])} | {_fmt(d['diff_pct'])}% | "
                    f"{_pm(t['diff'], t['diff_ci95'])} | {_pm(q['diff'], q['diff_ci95'])} | {sig} |"
                )
        out.append("")
    return "\n".join(out)


def _plots(
    records: list[dict[str, Any]], rows: list[dict[str, Any]], controllers: list[str], folder: Path
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    idx = {(r["scenario"], r["controller"], r["metric"]): r for r in rows}
    written = []
    for scenario in sorted({r["scenario"] for r in records}):
        present = [c for c in controllers if (scenario, c, "delay") in idx]
        fig, axes = plt.subplots(2, 4, figsize=(16, 7))
        for ax, metric in zip(axes.ravel(), PLOT_METRICS):
            means = [idx[(scenario, c, metric)]["mean"] for c in present]
            cis = [np.nan_to_num(idx[(scenario, c, metric)]["ci95"]) for c in present]
            ax.bar(
                range(len(present)), means, yerr=cis, capsize=4, color=[f"C{i}" for i in range(len(present))]
            )
            ax.set_xticks(range(len(present)), present, rotation=30, ha="right", fontsize=8)
            label, unit, _ = METRICS[metric]
            ax.set_title(f"{label}" + (f" ({unit})" if unit else ""), fontsize=9)
        fig.suptitle(f"{scenario}: mean ± 95% CI over seeds")
        fig.tight_layout()
        path = folder / f"{scenario}_metrics.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
        for key, ylabel in (("queue", "halting vehicles"), ("arrived", "arrived vehicles (cumulative)")):
            fig, ax = plt.subplots(figsize=(8, 4))
            for i, c in enumerate(present):
                runs = [r["series"] for r in records if r["scenario"] == scenario and r["controller"] == c]
                n = min(len(s["time"]) for s in runs)
                if n == 0:
                    continue
                t = np.array(runs[0]["time"][:n]) / 60.0
                ax.plot(t, np.mean([s[key][:n] for s in runs], axis=0), label=c, color=f"C{i}")
            ax.set_xlabel("simulation time (min)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{scenario}: {ylabel} (mean over seeds)")
            ax.legend(fontsize=8)
            fig.tight_layout()
            name = "queue" if key == "queue" else "throughput"
            path = folder / f"{scenario}_{name}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            written.append(path)
    return written


# ---------------------------------------------------------------------------- the delay-CO2 trade-off (issue 18)
TRADEOFF_METRICS = ("delay", "co2_per_vehicle", "stops")


def _frontier(points: dict[str, tuple[float, float]]) -> set[str]:
    """Controllers no other one beats on both delay and CO2 per vehicle (lower is better)."""
    return {
        c
        for c, (d, e) in points.items()
        if not any(d2 <= d and e2 <= e and (d2, e2) != (d, e) for d2, e2 in points.values())
    }


def tradeoff_markdown(rows: list[dict[str, Any]], reference: str, controllers: list[str]) -> str:
    """The ``tradeoff.md`` text: per scenario, delay, CO2 per vehicle and stops per vehicle of every
    controller, the paired differences vs ``reference`` in %, and which controllers are on the
    delay-CO2 frontier (no other controller has both less delay and less CO2 per vehicle)."""
    idx = {(r["scenario"], r["controller"], r["metric"]): r for r in rows}
    out = [
        "# Delay vs CO2 trade-off",
        "",
        "Mean ± 95% CI over seeds; Δ are paired per seed against "
        f"`{reference}` (negative = less). CO2 and stops per vehicle that entered "
        "(evaluation/metrics.py). Frontier: no other controller has both less delay and less CO2.",
        "",
    ]
    for scenario in sorted({r["scenario"] for r in rows}):
        present = [c for c in controllers if (scenario, c, "co2_per_vehicle") in idx]
        points = {
            c: (idx[(scenario, c, "delay")]["mean"], idx[(scenario, c, "co2_per_vehicle")]["mean"])
            for c in present
        }
        front = _frontier(points)
        n = max((idx[(scenario, c, "delay")]["n"] for c in present), default=0)
        out += [
            f"## {scenario} ({n} seeds)",
            "",
            "| controller | delay (s/veh) | CO2 (g/veh) | stops (1/veh) | Δ delay | Δ CO2 | Δ stops | frontier |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in present:
            cells = [f"`{c}`"] + [
                _pm(idx[(scenario, c, m)]["mean"], idx[(scenario, c, m)]["ci95"]) for m in TRADEOFF_METRICS
            ]
            for m in TRADEOFF_METRICS:
                r = idx[(scenario, c, m)]
                cells.append("–" if c == reference else f"{_fmt(r['diff_pct'])}%")
            cells.append("yes" if c in front else "")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def tradeoff_plot(rows: list[dict[str, Any]], controllers: list[str], path: Path) -> Path:
    """One panel per scenario: mean delay (x) against CO2 per vehicle (y) with 95% CIs, each
    controller's marker coloured by its stops per vehicle; the frontier joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = {(r["scenario"], r["controller"], r["metric"]): r for r in rows}
    scenarios = sorted({r["scenario"] for r in rows})
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6.5 * len(scenarios), 5), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        present = [c for c in controllers if (scenario, c, "co2_per_vehicle") in idx]
        get = {m: [idx[(scenario, c, m)] for c in present] for m in TRADEOFF_METRICS}
        x = [r["mean"] for r in get["delay"]]
        y = [r["mean"] for r in get["co2_per_vehicle"]]
        ax.errorbar(
            x,
            y,
            xerr=[np.nan_to_num(r["ci95"]) for r in get["delay"]],
            yerr=[np.nan_to_num(r["ci95"]) for r in get["co2_per_vehicle"]],
            fmt="none",
            ecolor="0.6",
            zorder=1,
        )
        dots = ax.scatter(x, y, c=[r["mean"] for r in get["stops"]], cmap="viridis", s=60, zorder=2)
        for c, xi, yi in zip(present, x, y):
            ax.annotate(c, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
        front = sorted(
            (xi, yi) for c, xi, yi in zip(present, x, y) if c in _frontier(dict(zip(present, zip(x, y))))
        )
        if len(front) > 1:
            ax.plot(*zip(*front), color="C3", lw=1, ls="--", zorder=0, label="frontier")
            ax.legend(fontsize=8)
        fig.colorbar(dots, ax=ax, label="stops per vehicle")
        ax.set_xlabel("mean delay (s/veh)")
        ax.set_ylabel("CO2 per vehicle (g/veh)")
        ax.set_title(f"{scenario}: delay vs CO2 (mean ± 95% CI)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _sweeps(config: EvalConfig) -> tuple[dict[str, dict[float, str]], list[str]]:
    """``({sweep line: {penetration: label}}, reference labels)`` of a config's controllers: an
    entry under a connected or hybrid model is a point of its line (``sweep``, else its label);
    the others (detectors, native controllers) are references."""
    lines: dict[str, dict[float, str]] = defaultdict(dict)
    refs = []
    for c in config.controllers:
        if c.sensing is not None and c.sensing.model != "detectors":
            lines[c.sweep or c.label][c.sensing.penetration] = c.label
        else:
            refs.append(c.label)
    return dict(lines), refs


def sensing_markdown(config: EvalConfig, rows: list[dict[str, Any]], metric: str = "delay") -> str:
    """The ``sensing.md`` text: per scenario, ``metric`` (mean ± 95% CI) of each sweep line at each
    penetration, then the references in a column of their own (they have no penetration: lane
    sensors or SUMO's own detectors)."""
    lines, refs = _sweeps(config)
    idx = {(r["scenario"], r["controller"], r["metric"]): r for r in rows}
    ps = sorted({p for line in lines.values() for p in line})
    label, unit, _ = METRICS[metric]
    out = [f"# {label} ({unit}) against penetration", ""]
    for s in config.scenarios:
        header = [f"p={100 * p:g}%" for p in ps] + ["reference (no penetration)"]
        out += [f"## {s.label}", "", "| controller | " + " | ".join(header) + " |"]
        out.append("|---|" + "---|" * len(header))
        for name, points in lines.items():
            cells = [
                _pm(idx[k]["mean"], idx[k]["ci95"]) if (k := (s.label, points.get(p), metric)) in idx else "–"
                for p in ps
            ]
            out.append(f"| `{name}` | " + " | ".join(cells) + " | |")
        for ref in refs:
            if (s.label, ref, metric) in idx:
                r = idx[(s.label, ref, metric)]
                out.append(f"| `{ref}` (reference) |" + " |" * len(ps) + f" {_pm(r['mean'], r['ci95'])} |")
        out.append("")
    return "\n".join(out)


def _sensing_plots(
    config: EvalConfig, rows: list[dict[str, Any]], folder: Path, metric: str = "delay"
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines, refs = _sweeps(config)
    idx = {(r["scenario"], r["controller"], r["metric"]): r for r in rows}
    folder.mkdir(parents=True, exist_ok=True)
    label, unit, _ = METRICS[metric]
    for s in config.scenarios:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for i, (name, points) in enumerate(lines.items()):
            got = [
                (p, idx[(s.label, c, metric)])
                for p, c in sorted(points.items())
                if (s.label, c, metric) in idx
            ]
            if got:
                x = [100 * p for p, _ in got]
                ax.errorbar(
                    x,
                    [r["mean"] for _, r in got],
                    yerr=[np.nan_to_num(r["ci95"]) for _, r in got],
                    marker="o",
                    capsize=3,
                    label=name,
                    color=f"C{i}",
                )
        # references: grey, one dash pattern each, their value written at the right edge (the sweep
        # lines take the colour cycle, so a reference never shares a line's colour)
        dashes = ["--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3))]
        for j, ref in enumerate(refs):
            if (s.label, ref, metric) in idx:
                y = idx[(s.label, ref, metric)]["mean"]
                ax.axhline(y, ls=dashes[j % len(dashes)], lw=1, color=str(0.15 + 0.12 * (j % 5)), label=ref)
                ax.annotate(
                    f"{y:.1f}",
                    (1.0, y),
                    xycoords=("axes fraction", "data"),
                    fontsize=7,
                    xytext=(2, 0),
                    textcoords="offset points",
                    va="center",
                )
        ax.set_xlabel("penetration of connected vehicles (%)")
        ax.set_ylabel(f"{label} ({unit})")
        ax.set_title(f"{s.label}: {label} against penetration (mean ± 95% CI over seeds)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.08, 1.0))
        fig.tight_layout()
        fig.savefig(folder / f"{s.label}_sensing.png", dpi=90)
        plt.close(fig)


def _csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_report(config: EvalConfig, *, plots: bool = True) -> Path:
    """Write CSV/JSON/markdown/plots for the episodes of ``config`` found in its results folder."""
    out = Path(config.out)
    wanted = {
        (s.label, c.label, seed)
        for s in config.scenarios
        for c in config.controllers
        for seed in config.seeds
    }
    records = [r for r in load_records(out) if (r["scenario"], r["controller"], r["seed"]) in wanted]
    controllers = [c.label for c in config.controllers]
    episode_rows = [
        {
            "scenario": r["scenario"],
            "controller": r["controller"],
            "seed": r["seed"],
            **r["metrics"],
            "wall_seconds": round(r["wall_seconds"], 2),
        }
        for r in records
    ]
    atomic_write_text(
        out / "episodes.csv", _csv(episode_rows, ["scenario", "controller", "seed", *METRICS, "wall_seconds"])
    )
    rows = summarise(records, config.reference)
    atomic_write_text(out / "summary.csv", _csv(rows, list(rows[0]) if rows else ["scenario"]))
    atomic_write_text(
        out / "summary.json",
        json.dumps(
            [
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in rows
            ],
            indent=1,
        ),
    )
    wall: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        wall[(r["scenario"], r["controller"])].append(r["wall_seconds"])
    mean_wall = {k: float(np.mean(v)) for k, v in wall.items()}
    atomic_write_text(out / "summary.md", markdown(rows, config.reference, controllers, mean_wall))
    atomic_write_text(out / "tradeoff.md", tradeoff_markdown(rows, config.reference, controllers))
    if plots and records:
        _plots(records, rows, controllers, out / "plots")
        tradeoff_plot(rows, controllers, out / "plots" / "tradeoff.png")
    if _sweeps(config)[0]:
        atomic_write_text(out / "sensing.md", sensing_markdown(config, rows))
        if plots and records:
            _sensing_plots(config, rows, out / "plots")
    return out


def metric_means(config: EvalConfig) -> dict[str, dict[str, dict[str, float]]]:
    """``{scenario: {controller: {metric: mean over the finished seeds}}}`` of ``config``."""
    wanted = {
        (s.label, c.label, seed)
        for s in config.scenarios
        for c in config.controllers
        for seed in config.seeds
    }
    values: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in load_records(config.out):
        if (r["scenario"], r["controller"], r["seed"]) in wanted:
            values[r["scenario"]][r["controller"]].append(r["metrics"])
    return {
        s: {c: {m: float(np.mean([x.get(m, math.nan) for x in v])) for m in METRICS} for c, v in cs.items()}
        for s, cs in values.items()
    }


def scores(config: EvalConfig, metric: str = "delay") -> dict[str, dict[str, float]]:
    """``{scenario: {controller: mean metric}}`` of the finished episodes (for training callbacks)."""
    return {s: {c: m[metric] for c, m in cs.items()} for s, cs in metric_means(config).items()}
