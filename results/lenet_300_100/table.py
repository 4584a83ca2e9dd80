"""Print the README's LeNet-300-100 tables from the committed run directories.

    python results/lenet_300_100/table.py > results/lenet_300_100/table.md

For each protocol, one row per x position of the papers' figures (weights remaining as %
of the real model's 266,200); each run contributes the level nearest to it (within 15%),
reported as test accuracy at the early-stop iteration / at the end of training (%).
"""
from pathlib import Path

from hyperprune.plots import load_groups

HERE = Path(__file__).resolve().parent
TARGETS = [100, 51.3, 25.3, 21.1, 13.5, 7.0, 3.6, 1.9, 1.1]


def nearest(levels, target):
    best = min(levels, key=lambda s: abs(s["pm_of_real"] * 100 / target - 1))
    return best if abs(best["pm_of_real"] * 100 / target - 1) < 0.15 else None


def table(protocol):
    groups = load_groups([HERE / protocol])
    names = list(groups)
    lines = [f"| weights remaining (% of real) | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for target in TARGETS:
        cells = []
        for name in names:
            reps = [nearest(levels, target) for levels in groups[name]]
            if any(r is None for r in reps):
                cells.append("—")
                continue
            es = sum(r["early_stop_test_acc"] for r in reps) / len(reps) * 100
            end = sum(r["final_test_acc"] for r in reps) / len(reps) * 100
            it = sum(r["early_stop_iteration"] for r in reps) / len(reps)
            cells.append(f"{es:.2f} / {end:.2f} (it {it / 1000:.1f}K, "
                         f"level {reps[0]['level']})")
        if any(c != "—" for c in cells):
            lines.append(f"| {target:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    for protocol, title in [("frankle", "Frankle & Carbin protocol (layer-wise 20%/10%)"),
                            ("iqbal_mishra", "Iqbal & Mishra protocol (global 20%)")]:
        if (HERE / protocol).exists():
            print(f"#### {title}\n\ntest accuracy at early stop / at end of training (%)\n")
            print(table(protocol) + "\n")
