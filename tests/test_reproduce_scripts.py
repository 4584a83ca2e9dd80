"""The reproduction scripts regenerate into a fresh directory when asked (OUT=DIR), so a
fresh clone can rerun them next to the committed results instead of finding every level
done.  Run here with a stand-in for the `hyperprune` command that records its arguments:
what is checked is where each script would write, not the (hours-long) training."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(ROOT.glob("results/*/reproduce.sh")) + [ROOT / "results" / "replicates.sh"]

FAKE = """#!{python}
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def written_paths(calls):
    """Every path a recorded call would write: run directories and figure/table files."""
    paths = []
    for args in calls:
        for flag in ("--run-dir", "-o", "--table", "--histograms"):
            if flag in args:
                paths.append(args[args.index(flag) + 1])
    return paths


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.parent.name + "/" + p.name)
def test_a_script_writes_only_under_OUT(script, tmp_path):
    import json
    log, fake = tmp_path / "calls.jsonl", tmp_path / "hyperprune"
    fake.write_text(FAKE.format(python=sys.executable, log=str(log)))
    fake.chmod(0o755)
    cifar = tmp_path / "cifar" / "cifar-10-batches-bin"
    cifar.mkdir(parents=True)
    (cifar / "test_batch.bin").write_bytes(b"")       # present: nothing is fetched
    out = tmp_path / "out"
    env = dict(os.environ, HP=str(fake), OUT=str(out), CIFAR_DIR=str(tmp_path / "cifar"),
               RATE05=str(out / "rate05"))
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(c[0] in ("lottery", "supermask") for c in calls)
    paths = written_paths(calls)
    assert paths and all(Path(p).resolve().is_relative_to(out) for p in paths), paths
