"""Runs you can trust: resumption with every optimizer and with dropout, run directories
verified when read, divergence stopped at once, no half-claimed directories, one layout
of replicates, the random-pruning control's counts, interrupts."""
import json

import numpy as np
import pytest

from conftest import TINY_LENET_LOTTERY as LENET
from hyperprune import cli, io, lottery, plots, prune
from hyperprune.lottery import DivergedError, LotteryConfig, LotteryRun

GPT = dict(model="gpt_char", block_size=16, n_layer=1, n_head=2, n_embd=16, batch_size=4,
           iterations=24, eval_every=8, checkpoint_every=10, eval_iters=2, scope="qkv",
           strategy="componentwise", rate=0.5, levels=1)


def records(run_dir):
    """Every level record of a run, without the wall-clock seconds."""
    out = []
    for path in sorted((run_dir / "levels").glob("level_*.json")):
        record = json.loads(path.read_text())
        record["summary"].pop("seconds")
        out.append(record)
    return out


def kill_at(monkeypatch, step):
    """Make the step-th training step (counted over the whole process) raise Ctrl-C."""
    real, calls = lottery.train_step, [0]

    def dying(*args):
        calls[0] += 1
        if calls[0] == step:
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(lottery, "train_step", dying)
    return lambda: monkeypatch.setattr(lottery, "train_step", real)


CONFIGS = {
    "adam": LotteryConfig(**LENET),
    "adamw": LotteryConfig(optimizer="adamw", weight_decay=0.1, lr_schedule="cosine",
                           warmup_iters=5, min_lr=1e-4, **LENET),
    "sgd": LotteryConfig(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4,
                         **LENET),
    "adamw-dropout": LotteryConfig(optimizer="adamw", weight_decay=0.1, dropout=0.2,
                                   lr=1e-3, **GPT),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_kill_and_resume_is_bitwise_for_every_optimizer_and_with_dropout(name, tmp_path,
                                                                          monkeypatch):
    """Killed mid-level 1 after a checkpoint, resumed by a new process-like run: every
    number equals the uninterrupted run's (optimizer groups and state, the random stream
    of dropout, the curve so far are all in the checkpoint)."""
    config = CONFIGS[name]
    LotteryRun(config, tmp_path / "full", quiet=True).run()
    steps = config.iterations + config.checkpoint_every + 3
    restore = kill_at(monkeypatch, steps)
    with pytest.raises(KeyboardInterrupt):
        LotteryRun(config, tmp_path / "resumed", quiet=True).run()
    restore()
    assert (tmp_path / "resumed" / "checkpoint.npz").exists()
    LotteryRun(config, tmp_path / "resumed", quiet=True).run()
    assert records(tmp_path / "full") == records(tmp_path / "resumed")


@pytest.fixture
def finished(tmp_path):
    """A finished 2-level LeNet run (levels 0 and 1, and the mask of level 2)."""
    run = tmp_path / "run"
    LotteryRun(LotteryConfig(**LENET), run, quiet=True).run()
    return run


def extend(run):
    LotteryRun(LotteryConfig(**{**LENET, "levels": 2}), run, quiet=True).run()


def drop_one(arrays, layer):
    """Prune one more surviving weight of a layer's mask (in place)."""
    arrays[layer][tuple(np.argwhere(arrays[layer])[0])] = 0


def edit_mask(path, change):
    arrays = io.load_npz(path)
    change(arrays)
    io.save_npz(path, arrays, compressed=True)


@pytest.mark.parametrize("tamper,message", [
    (lambda a: a.pop("2"), r"missing layers \['2'\]"),
    (lambda a: a.__setitem__("0", np.ones_like(a["0"])), "keeps .* weights that the previous "
                                                        "level had pruned"),
    (lambda a: [a.__setitem__(k, np.zeros_like(v)) for k, v in list(a.items())],
     "keep no weight"),
    (lambda a: drop_one(a, "2"), "is not the mask level 1 made"),   # nested, but not it
])
def test_a_changed_mask_is_refused_naming_the_file(finished, tamper, message):
    path = finished / "masks" / "level_02.npz"
    edit_mask(path, tamper)
    with pytest.raises(ValueError, match=message) as info:
        extend(finished)
    assert "level_02.npz" in str(info.value)
    assert not (finished / "levels" / "level_02.json").exists()   # nothing trained on it


def test_a_mask_with_other_counts_than_recorded_is_refused(finished):
    path = finished / "masks" / "level_01.npz"
    edit_mask(path, lambda a: drop_one(a, "0"))
    with pytest.raises(ValueError, match="level_01.npz keeps .* weights, but .*level_01.json "
                                         "recorded"):
        extend(finished)


def test_a_changed_theta0_is_refused(finished):
    init = io.load_npz(finished / "init.npz")
    io.save_npz(finished / "init.npz", {k: v * 2 for k, v in init.items()})
    with pytest.raises(ValueError, match="init.npz is not θ0 of this run"):
        extend(finished)
    (finished / "init.npz").unlink()                   # deleted: rebuilt from the seed
    extend(finished)
    assert (finished / "levels" / "level_02.json").exists()


def test_a_corrupt_level_record_is_named(finished):
    (finished / "levels" / "level_01.json").write_text('{"summary":\n')
    with pytest.raises(ValueError, match=r"level_01.json: not valid JSON"):
        extend(finished)


@pytest.mark.parametrize("lr", [1e20, float("nan")])
def test_divergence_stops_the_level_at_once_and_the_run_can_restart(tmp_path, lr):
    run = tmp_path / "run"
    with pytest.raises(DivergedError, match=r"level 0, iteration \d+: the (training loss|"
                                            r"weight .*) is .*--restart") as info:
        LotteryRun(LotteryConfig(**{**LENET, "lr": lr}), run, quiet=True).run()
    iteration = int(str(info.value).split("iteration ")[1].split(":")[0])
    assert iteration <= 10                          # stopped at once, not at the level's end
    with pytest.raises(ValueError, match="add --restart"):
        LotteryRun(LotteryConfig(**LENET), run, quiet=True)
    LotteryRun(LotteryConfig(**LENET), run, quiet=True, restart=True).run()
    assert json.loads((run / "config.json").read_text())["config"]["lr"] == 1.2e-3
    with pytest.raises(ValueError, match="--restart only restarts a run that never"):
        LotteryRun(LotteryConfig(**LENET), run, quiet=True, restart=True)


def test_a_failed_start_leaves_no_claimed_directory(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="MNIST not found"):
        LotteryRun(LotteryConfig(**LENET), run, data_dir=tmp_path / "nowhere",
                   quiet=True).run()
    assert not (run / "config.json").exists()
    with pytest.raises(ValueError, match="validation must be >= 1"):
        LotteryRun(LotteryConfig(**{**LENET, "validation": 0}), run, quiet=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file, not a run directory"):
        LotteryRun(LotteryConfig(**LENET), tmp_path / "file", quiet=True)
    LotteryRun(LotteryConfig(**{**LENET, "levels": 0}), run, quiet=True).run()  # usable


def test_replicates_have_one_layout_and_plot_averages_them(tmp_path, finished):
    with pytest.raises(ValueError, match="holds a single run"):
        lottery.run_lottery(LotteryConfig(**LENET), finished, replicates=2, quiet=True)
    assert not (finished / "replicate_0").exists()
    root = tmp_path / "replicates"
    config = LotteryConfig(**{**LENET, "levels": 0})
    lottery.run_lottery(config, root, replicates=2, quiet=True)
    seeds = [json.loads((root / f"replicate_{r}" / "config.json").read_text())["config"]
             ["seed"] for r in (0, 1)]
    assert seeds == [0, 1]
    with pytest.raises(ValueError, match="holds replicates"):
        lottery.run_lottery(config, root, replicates=1, quiet=True)
    (label, replicates), = plots.load_groups([root]).items()
    assert len(replicates) == 2
    accuracies = [r[0]["early_stop_test_acc"] * 100 for r in replicates]
    row = plots.markdown_table([root]).strip().splitlines()[2]
    mean = sum(accuracies) / 2
    std = abs(accuracies[0] - accuracies[1]) / 2 ** 0.5          # sample std of two
    assert f"{mean:.2f} ± {std:.2f} / " in row and "n=2)" in row, row


def test_random_pruning_under_global_keeps_the_tickets_layer_counts(tmp_path):
    ticket = tmp_path / "ticket"
    settings = dict(LENET, levels=3, strategy="global", fraction=0.4)
    LotteryRun(LotteryConfig(**settings), ticket, quiet=True).run()
    with pytest.raises(ValueError, match="needs masks_from"):
        LotteryConfig(**settings, control="random_pruning").validate()
    control = tmp_path / "control"
    LotteryRun(LotteryConfig(**settings, control="random_pruning", masks_from=str(ticket)),
               control, quiet=True).run()
    for level in range(4):
        a = prune.Masks.load(ticket / "masks" / f"level_{level:02d}.npz")
        b = prune.Masks.load(control / "masks" / f"level_{level:02d}.npz")
        assert a.remaining() == b.remaining(), level
        if level:
            assert any((a[n] != b[n]).any() for n in a)    # other positions


def test_ctrl_c_ends_with_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    restore = kill_at(monkeypatch, 15)
    args = ["lottery", "--run-dir", str(tmp_path / "r"), "--levels", "0", "--iterations",
            "30", "--eval-every", "10", "--checkpoint-every", "12", "--train-subset", "300",
            "--validation", "300", "--quiet"]
    assert cli.main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted: the same command resumes it" in err[0]
    restore()
    assert cli.main(args) == 0


def test_seconds_accumulate_over_resumed_segments(tmp_path, monkeypatch):
    clock = [1000.0]

    def tick():
        clock[0] += 1.0
        return clock[0]
    monkeypatch.setattr(lottery.time, "time", tick)
    config = LotteryConfig(**{**LENET, "levels": 0})
    LotteryRun(config, tmp_path / "full", quiet=True).run()
    uninterrupted = json.loads((tmp_path / "full" / "levels" / "level_00.json")
                               .read_text())["summary"]["seconds"]
    restore = kill_at(monkeypatch, 20)
    with pytest.raises(KeyboardInterrupt):
        LotteryRun(config, tmp_path / "resumed", quiet=True).run()
    restore()
    LotteryRun(config, tmp_path / "resumed", quiet=True).run()
    resumed = json.loads((tmp_path / "resumed" / "levels" / "level_00.json")
                         .read_text())["summary"]["seconds"]
    # the resumed level counts the segment before the checkpoint too (time between the
    # checkpoint and the kill is lost: at most those few ticks)
    assert resumed >= uninterrupted - 12


def test_patience_ends_a_level_and_test_is_evaluated_when_it_matters(tmp_path):
    """patience: a level ends once validation loss has not improved for that many
    iterations (its last point says so); test_when_improved: the test set is evaluated
    only at new best validation losses and at the end -- the early-stop and final test
    numbers are those of the full evaluation."""
    settings = dict(LENET, levels=0, iterations=200, eval_every=10, lr=0.05)
    LotteryRun(LotteryConfig(**settings), tmp_path / "full", quiet=True).run()
    LotteryRun(LotteryConfig(**settings, test_when_improved=True, patience=40),
               tmp_path / "lazy", quiet=True).run()
    full, lazy = (json.loads((tmp_path / d / "levels" / "level_00.json").read_text())
                  for d in ("full", "lazy"))
    curve = lazy["curve"]
    best = min(curve, key=lambda p: p["val_loss"])
    assert curve[-1].get("last") and curve[-1]["iteration"] - best["iteration"] >= 40
    assert lazy["summary"]["final_iteration"] == curve[-1]["iteration"] < 200
    assert any("test_acc" not in p for p in curve)               # skipped where not needed
    for point in curve:                                          # same numbers where taken
        twin = next(p for p in full["curve"] if p["iteration"] == point["iteration"])
        assert {k: point[k] for k in point if k != "last"} == \
            {k: twin[k] for k in point if k != "last"}
    assert lazy["summary"]["early_stop_test_acc"] == next(
        p for p in full["curve"] if p["iteration"] == best["iteration"])["test_acc"]
    assert (tmp_path / "lazy" / "curves.csv").read_text().count("\n") == len(curve) + 1


def test_a_table_row_averages_the_replicates_that_reached_it():
    def level(k, acc):
        return dict(level=k, pm_of_real=0.5 ** k, early_stop_test_acc=acc, final_test_acc=acc)
    groups = {"real global": [[level(0, 0.60), level(1, 0.70)], [level(0, 0.62)]]}
    rows = plots._table(groups, [100, 50], False, plots._nearest).splitlines()[2:]
    assert rows[0].startswith("| 100 | 61.00 ± 1.41 / 61.00 ± 1.41 (level 0, 100.00%, n=2)")
    assert rows[1] == "| 50 | 70.00 / 70.00 (level 1, 50.00%, n=1) |"
