"""results/conv4_converged/longer.py: a capped level trained again under a larger cap is the
same level -- the run's own mask and θ0, its settings -- only trained for longer."""
import importlib.util
import json
from pathlib import Path

import pytest

from conftest import TINY_LENET_LOTTERY
from hyperprune.lottery import LotteryConfig, LotteryRun

SCRIPT = Path(__file__).resolve().parent.parent / "results" / "conv4_converged" / "longer.py"


def load_script():
    spec = importlib.util.spec_from_file_location("longer_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("longer")
    LotteryRun(LotteryConfig(**TINY_LENET_LOTTERY), tmp / "run", quiet=True).run()
    longer = load_script()
    result = longer.train_longer(tmp / "run", 1, 60, tmp / "longer")
    return longer, tmp, result


def test_the_probe_trains_the_runs_own_level_for_longer(probe):
    _, tmp, result = probe
    original = json.loads((tmp / "run" / "levels" / "level_01.json").read_text())
    assert result["capped"] == original["summary"]
    assert result["longer"]["final_iteration"] == 60
    assert result["longer"]["weights_remaining"] == original["summary"]["weights_remaining"]
    # the level's mask is the run's, byte for byte
    work = tmp / "longer" / "run_level01"
    for name in ("level_00.npz", "level_01.npz"):
        assert (work / "masks" / name).read_bytes() == (tmp / "run" / "masks" / name).read_bytes()
    # same θ0, mask, data order and optimizer: up to the old cap the curve is the same one
    same = [p for p in result["curve"] if p["iteration"] <= 30 and "last" not in p]
    before = {p["iteration"]: p for p in original["curve"]}
    assert same and all(p["train_loss"] == before[p["iteration"]]["train_loss"] for p in same)
    saved = json.loads((tmp / "longer" / "run_level01.json").read_text())
    assert saved["longer"] == result["longer"] and saved["iterations"] == 60


def test_the_table_has_a_row_a_probe_and_refuses_an_empty_folder(probe, tmp_path):
    longer, tmp, result = probe
    text = longer.table(tmp / "longer")
    assert (tmp / "longer" / "longer.md").read_text() == text
    rows = text.strip().splitlines()
    assert len(rows) == 3 and rows[2].startswith("| run | 1 | ")
    assert f"{100 * result['longer']['early_stop_test_acc']:.2f}" in rows[2]
    with pytest.raises(SystemExit, match="no probe"):
        longer.table(tmp_path)
