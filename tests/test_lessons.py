"""Every lesson runs, top to bottom, as a script: lessons are code, so they never rot.

Each lesson runs in a fresh subprocess (its backend choice and seeds stay its own), with a
non-interactive Matplotlib backend and HYPERPRUNE_LESSON_FAST=1, the documented knob that
lets a lesson shrink its training loops.  A lesson's own asserts are its checks.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]_*.py"))


def test_there_are_lessons():
    assert len(LESSONS) >= 3


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_lesson_runs(lesson, tmp_path):
    # one BLAS thread: on a busy 2-core machine OpenBLAS's spinning threads can make small
    # GEMMs tens of times slower
    env = dict(os.environ, MPLBACKEND="Agg", HYPERPRUNE_LESSON_FAST="1",
               OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    env.pop("HYPERPRUNE_BACKEND", None)
    result = subprocess.run([sys.executable, str(lesson)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (
        f"{lesson.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
