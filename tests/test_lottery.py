"""The IMP runner: determinism, resumption after a kill, controls, the CLI."""
import json

import numpy as np
import pytest

from hyperprune import cli, lottery, prune
from hyperprune.lottery import LotteryConfig, LotteryRun

TINY = dict(levels=2, iterations=40, eval_every=10, checkpoint_every=15, train_subset=600,
            validation=500, rate=0.5, output_rate=0.25)


def results(run_dir):
    """Everything a run reports, without the wall-clock seconds."""
    levels = []
    for k in sorted((run_dir / "levels").glob("level_*.json")):
        record = json.loads(k.read_text())
        record["summary"].pop("seconds")
        levels.append(record)
    masks = {p.name: prune.Masks.load(p).masks for p in (run_dir / "masks").glob("*.npz")}
    return levels, masks


def same(a, b):
    levels_a, masks_a = a
    levels_b, masks_b = b
    assert levels_a == levels_b  # bitwise: floats compared exactly
    assert masks_a.keys() == masks_b.keys()
    for name in masks_a:
        for layer in masks_a[name]:
            np.testing.assert_array_equal(masks_a[name][layer], masks_b[name][layer])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    LotteryRun(LotteryConfig(algebra="quaternion", **TINY), run_dir, quiet=True).run()
    return run_dir


def test_run_directory_contents(uninterrupted):
    names = {p.name for p in uninterrupted.iterdir()}
    assert {"config.json", "init.npz", "masks", "levels", "metrics.csv", "metrics.json",
            "curves.csv"} <= names
    assert "checkpoint.npz" not in names
    metrics = json.loads((uninterrupted / "metrics.json").read_text())
    pm = [s["pm"] for s in metrics["levels"]]
    assert pm[0] == 1.0 and pm[1] < pm[0] and pm[2] < pm[1]
    curve = json.loads((uninterrupted / "levels" / "level_01.json").read_text())["curve"]
    assert [p["iteration"] for p in curve] == [10, 20, 30, 40]
    header = (uninterrupted / "metrics.csv").read_text().splitlines()[0]
    assert "early_stop_test_acc" in header and "pm_of_real" in header


def test_same_seed_same_results(uninterrupted, tmp_path):
    LotteryRun(LotteryConfig(algebra="quaternion", **TINY), tmp_path, quiet=True).run()
    same(results(uninterrupted), results(tmp_path))


def test_other_seed_other_results(uninterrupted, tmp_path):
    LotteryRun(LotteryConfig(algebra="quaternion", seed=1, **TINY), tmp_path, quiet=True).run()
    assert results(uninterrupted)[0] != results(tmp_path)[0]


@pytest.mark.parametrize("kill_at", [7, 40 + 33, 80 + 40])
def test_killed_and_resumed_run_is_bitwise_identical(uninterrupted, tmp_path, monkeypatch,
                                                     kill_at):
    """Kill at training step `kill_at` (mid-level 0, mid-level 1 after a checkpoint, the
    last step of the last level); running again must reproduce every number exactly."""
    real_step = lottery.train_step
    calls = [0]

    def dying_step(*args):
        calls[0] += 1
        if calls[0] == kill_at:
            raise KeyboardInterrupt
        return real_step(*args)

    config = LotteryConfig(algebra="quaternion", **TINY)
    monkeypatch.setattr(lottery, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        LotteryRun(config, tmp_path, quiet=True).run()
    monkeypatch.setattr(lottery, "train_step", real_step)
    LotteryRun(config, tmp_path, quiet=True).run()
    same(results(uninterrupted), results(tmp_path))
    assert not (tmp_path / "checkpoint.npz").exists()


def test_resume_refuses_other_settings(uninterrupted):
    with pytest.raises(ValueError, match="holds a run with other settings"):
        LotteryRun(LotteryConfig(algebra="real", **TINY), uninterrupted, quiet=True)


def test_more_levels_extend_a_finished_run(tmp_path):
    config = LotteryConfig(**{**TINY, "levels": 1})
    LotteryRun(config, tmp_path, quiet=True).run()
    summaries = LotteryRun(LotteryConfig(**TINY), tmp_path, quiet=True).run()
    assert [s["level"] for s in summaries] == [0, 1, 2]


def test_reinit_control_trains_the_masks_of_another_run(uninterrupted, tmp_path):
    config = LotteryConfig(algebra="quaternion", control="reinit",
                           masks_from=str(uninterrupted), **TINY)
    summaries = LotteryRun(config, tmp_path, quiet=True).run()
    ticket = json.loads((uninterrupted / "metrics.json").read_text())["levels"]
    assert [s["weights_remaining"] for s in summaries] == \
        [s["weights_remaining"] for s in ticket]
    init_a = np.load(uninterrupted / "init.npz")["0.weight"]
    init_b = np.load(tmp_path / "init.npz")["0.weight"]
    assert not np.array_equal(init_a, init_b)  # a new initialization


def test_random_pruning_control_matches_counts(uninterrupted, tmp_path):
    config = LotteryConfig(algebra="quaternion", control="random_pruning", **TINY)
    summaries = LotteryRun(config, tmp_path, quiet=True).run()
    ticket = json.loads((uninterrupted / "metrics.json").read_text())["levels"]
    assert [s["weights_remaining"] for s in summaries] == \
        [s["weights_remaining"] for s in ticket]


def test_config_errors_list_the_choices(tmp_path):
    for kwargs, message in [(dict(model="vgg"), "unknown model 'vgg': expected one of"),
                            (dict(algebra="sedenion"), "unknown algebra 'sedenion'"),
                            (dict(strategy="l1"), "unknown pruning strategy 'l1': expected "
                                                  "one of layerwise, global"),
                            (dict(control="reinit"), "needs masks_from")]:
        with pytest.raises(ValueError, match=message):
            LotteryRun(LotteryConfig(**kwargs), tmp_path, quiet=True)


def test_a_setting_the_model_does_not_take_is_refused(tmp_path):
    """Settings of another model family would be ignored silently: they are refused."""
    with pytest.raises(ValueError, match="lenet_300_100 has no setting n_layer"):
        LotteryRun(LotteryConfig(n_layer=2), tmp_path, quiet=True)
    with pytest.raises(ValueError, match="gpt_char has no setting width"):
        LotteryRun(LotteryConfig(model="gpt_char", width=0.5), tmp_path, quiet=True)
    assert not (tmp_path / "config.json").exists()


def test_cli_lottery_and_plot(tmp_path, capsys):
    args = ["lottery", "--run-dir", str(tmp_path / "r"), "--levels", "1", "--iterations",
            "20", "--eval-every", "10", "--train-subset", "300", "--validation", "300",
            "--quiet"]
    assert cli.main(args) == 0
    assert cli.main(["plot", str(tmp_path / "r"), "-o", str(tmp_path / "fig.png"),
                     "--histograms", str(tmp_path / "hist.png"),
                     "--table", str(tmp_path / "table.md")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    assert (tmp_path / "hist.png").stat().st_size > 5_000
    table = (tmp_path / "table.md").read_text()
    assert table.startswith("| weights remaining (% of real) | real layerwise |")
    # default rows: the run's own levels (issue 11: they used to be LeNet's labels,
    # which dropped this run's 80% level)
    assert "\n| 100 |" in table and "\n| 80 |" in table
    assert cli.main(["plot", str(tmp_path / "r"), "-o", str(tmp_path / "fig.png"),
                     "--targets", "100,50", "--table", str(tmp_path / "table.md")]) == 0
    table = (tmp_path / "table.md").read_text()
    assert "\n| 100 | " in table and "\n| 80 |" not in table   # explicit rows only
    with pytest.raises(SystemExit):
        cli.main(["plot", str(tmp_path / "r"), "--targets", "100,half"])
    assert "expected comma-separated percentages" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["lottery", "--run-dir", str(tmp_path / "x"), "--strategy", "l1"])
    err = capsys.readouterr().err
    assert "invalid choice: 'l1'" in err and "layerwise" in err and "global" in err


def test_plot_groups_replicates_and_tells_experiments_apart(tmp_path):
    """Replicates (configs equal but for the seed) form one group; runs that differ in
    anything else -- qytorch's fused QKV layout, or a setting the short label omits such
    as the learning rate -- are separate groups, never averaged together."""
    from hyperprune import plots

    def write(name, **changes):
        config = dict(LotteryConfig(model="gpt_char", algebra="quaternion").to_dict(),
                      **changes)
        levels = [{"level": 0, "pm_of_real": 0.25, "final_test_acc": 0.5}]
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(
            json.dumps({"config": config, "levels": levels}))

    write("a", seed=0)
    write("b", seed=1)                                   # a replicate of a
    write("fused", fused_qkv=True)
    write("fast", lr=3e-3)                               # same short label as a
    groups = plots.load_groups([tmp_path])
    # namesakes are told apart by the settings in which they differ
    assert sorted(groups) == ["quaternion layerwise (lr 0.0012)",
                              "quaternion layerwise (lr 0.003)",
                              "quaternion layerwise fused QKV (qytorch)"]
    assert len(groups["quaternion layerwise (lr 0.0012)"]) == 2


def test_figure_ticks_are_thinned_on_the_log_axis():
    """Tick labels closer than a factor 1.5 would overlap: keep the largest, then each
    one at least 1.5x below the last kept (the table still lists every target)."""
    from hyperprune.plots import _spaced
    kept = _spaced([2.8, 100, 80, 64, 51.2, 41, 32.8, 26.2, 21, 16.8, 3.5, 4.4])
    assert kept == [100, 64, 41, 26.2, 16.8, 4.4, 2.8]
    assert all(a >= 1.5 * b for a, b in zip(kept, kept[1:]))
    assert _spaced([]) == [] and _spaced([100, 50, 25]) == [100, 50, 25]
