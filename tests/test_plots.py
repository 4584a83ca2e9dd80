"""Figures and tables read as they should: rows that fit the runs' own levels, log-axis
labels that never overlap, no mixing of metrics, labelled histograms."""
import json
import re

import pytest

from hyperprune import plots
from hyperprune.config import LotteryConfig
from hyperprune.lottery import LotteryRun

FAST = dict(levels=3, iterations=20, eval_every=10, train_subset=300, validation=300,
            rate=0.4, output_rate=0.2)


@pytest.fixture(scope="module")
def main_job_like(tmp_path_factory):
    """A real and a quaternion LeNet pruned 40% a round: levels the LeNet labels miss."""
    root = tmp_path_factory.mktemp("runs")
    for algebra in ("real", "quaternion"):
        LotteryRun(LotteryConfig(algebra=algebra, **FAST), root / algebra, quiet=True).run()
    return root


def test_default_rows_list_every_level_once(main_job_like):
    table = plots.markdown_table([main_job_like])
    header, _, *rows = table.strip().splitlines()
    assert header.startswith("| weights remaining (% of real) | real layerwise | "
                             "quaternion layerwise |")
    for column in (1, 2):
        levels = [int(m.group(1)) for row in rows
                  for m in [re.search(r"level (\d+),", row.split("|")[column + 1])] if m]
        assert sorted(levels) == [0, 1, 2, 3], (column, table)   # none twice, none left out


def test_log_axis_labels_never_overlap():
    """On a narrow range matplotlib labels the minor ticks of a log axis too (15, 20, 30
    ... over our 16.8, 21, 26.2): they are switched off, and ours are thinned."""
    from matplotlib.ticker import NullFormatter
    plt = plots._pyplot()
    fig, ax = plt.subplots()
    ax.plot([26.2, 21, 16.8], [1, 2, 3])
    shown = plots._log_axis(ax, [26.2, 21, 16.8])
    assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)
    assert all(a >= 1.5 * b for a, b in zip(shown, shown[1:]))
    plt.close(fig)


def write_run(path, model, levels):
    path.mkdir(parents=True)
    config = LotteryConfig(model=model).to_dict()
    (path / "metrics.json").write_text(json.dumps({"config": config, "levels": levels}))


def test_a_language_model_and_a_classifier_are_not_mixed(tmp_path):
    write_run(tmp_path / "gpt", "gpt_char", [{"level": 0, "pm_of_real": 1.0,
                                             "final_val_perplexity": 6.7}])
    write_run(tmp_path / "lenet", "lenet_300_100", [{"level": 0, "pm_of_real": 1.0,
                                                     "final_test_acc": 0.98}])
    with pytest.raises(ValueError, match="mix language models .* with classifiers"):
        plots.lottery_figure([tmp_path], tmp_path / "fig.png")
    with pytest.raises(ValueError, match="plot them separately"):
        plots.markdown_table([tmp_path])


def test_histograms_and_legend_are_labelled(main_job_like, monkeypatch):
    saved = []

    def capture(fig, out, title=None, legend_rows=0):
        saved.append(fig)
    monkeypatch.setattr(plots, "_save", capture)
    plots.histogram_figure([main_job_like], "h.png")
    axes = [ax for ax in saved[0].axes if ax.get_visible() and ax.axison]
    assert axes and all(ax.get_xlabel() == "surviving weight" for ax in axes)
    assert all("count" in ax.get_ylabel() for ax in saved[0].axes[::4])
    plots.lottery_figure([main_job_like], "f.png")
    legend, = saved[1].legends
    assert "n: runs (seeds) averaged" in legend.get_title().get_text()
    assert [t.get_text() for t in legend.get_texts()] == ["real layerwise (n=1)",
                                                         "quaternion layerwise (n=1)"]
