"""What the README says and what holds (issue 11's reading of it as a newcomer)."""
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_engine_snippet_computes_in_float32():
    """The README's first example used to mix float64 input with float32 weights, which
    NumPy upcasts silently: it must run, in the layers' dtype."""
    code = README.split("The engine in a few lines:\n\n```python\n")[1].split("```")[0]
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["loss"].dtype == np.float32 and scope["layer"].weight.grad is not None


def test_the_terms_every_run_prints_are_defined():
    assert "**Pm** is the fraction of the model's own prunable weights" in README
    assert "`--levels L` counts pruning *rounds*: levels 0, 1, ..., L are trained" in README


def test_lessons_as_notebooks_and_saving_models_are_documented():
    assert "jupytext" in README
    assert 'model.save("model.npz")' in README and 'model.load("model.npz")' in README


def test_the_benchmark_tables_have_no_blank_cells():
    section = README.split("## Benchmarks")[1].split("\n## ")[0]
    rows = [r for r in section.splitlines() if r.startswith("|")]
    assert len(rows) > 10 and not any(re.search(r"\|\s*\|", r) for r in rows), rows


def test_the_main_job_timing_is_the_measured_one():
    assert "a few minutes on 2 cores" not in README and "about a minute" in README
