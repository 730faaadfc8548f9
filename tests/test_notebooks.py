"""The notebooks run top to bottom (as scripts, the way jupytext percent files run without a
kernel), so that they never rot.

The first notebook finds no demo and makes a small one (studymgr.runs.demo.ensure_demo with the
QUICK settings); the second reuses it. Each notebook checks its own numbers against an independent
route (notebook 1: its refit equals the stored models run; notebook 2: the refit from the exported
CSV equals the exported model terms, and its APA table equals the exported publication table).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))


def test_notebooks_exist_and_are_jupytext_percent_files():
    names = [p.name for p in NOTEBOOKS]
    assert "01_quickstart.py" in names and "02_report_figure_from_tidy_data.py" in names
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ---\n# jupyter:\n#   jupytext:"), path.name
        assert "format_name: percent" in text, path.name
        cells = re.findall(r"^# %%( \[markdown\])?$", text, flags=re.M)
        assert len(cells) >= 5 and cells[0] == " [markdown]", path.name


def _run(path: Path, demo_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "STUDYMGR_DEMO_DIR": str(demo_dir), "MPLBACKEND": "Agg",
           "STUDYMGR_USER": "tester",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_notebooks_run_top_to_bottom(tmp_path):
    demo_dir = tmp_path / "demo"
    first = _run(REPO / "notebooks" / "01_quickstart.py", demo_dir, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (demo_dir / "study.db").is_file() and (demo_dir / "data").is_dir()
    assert "planted:" in first.stdout and "recovered growth" in first.stdout
    made = (demo_dir / "study.db").stat().st_mtime_ns
    for path in NOTEBOOKS[1:]:
        result = _run(path, demo_dir, tmp_path)
        assert result.returncode == 0, (path.name, result.stderr[-3000:])
    # the later notebooks reused the demo instead of making another one
    assert (demo_dir / "study.db").stat().st_mtime_ns == made
    assert "identical to table" in result.stdout
