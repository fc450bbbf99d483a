"""The transparency report's chart (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

OUTCOMES = ("allow", "track", "mute-audio", "review", "block")
COLOURS = {"allow": "#4caf50", "track": "#90caf9", "mute-audio": "#ffb74d", "review": "#fdd835", "block": "#e53935"}


def write_chart(report: dict, path: str | Path) -> Path:
    """Two panels: automatic decisions vs current outcomes; disputes and reviews."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    x = range(len(OUTCOMES))
    auto = [report["decisions"].get(k, 0) for k in OUTCOMES]
    now = [report["outcomes"].get(k, 0) for k in OUTCOMES]
    left.bar([i - 0.2 for i in x], auto, 0.4, label="automatic decision", color=[COLOURS[k] for k in OUTCOMES])
    left.bar([i + 0.2 for i in x], now, 0.4, label="current outcome", color=[COLOURS[k] for k in OUTCOMES],
             alpha=0.5, hatch="//")
    left.set_xticks(list(x), OUTCOMES)
    left.set_title(f"{report['uploads_screened']} uploads screened")
    left.legend()
    labels = ["reviews", "disputes\nupheld", "disputes\nreleased", "released by\nrights holders"]
    values = [sum(report["reviews"].values()), report["disputes"].get("upheld", 0),
              report["disputes"].get("released", 0), report.get("released_by_rights_holders", 0)]
    right.bar(labels, values, color=["#fdd835", "#e53935", "#4caf50", "#90caf9"])
    right.set_title(f"overturned on dispute: {100 * report['overturned_share']:.0f}% of "
                    f"{report['restrictive_decisions']} restricted uploads")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
