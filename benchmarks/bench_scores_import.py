"""Benchmark: import a 10,000-response questionnaire CSV into a fresh study.

Measured, not asserted (target: under 10 s on a 2-core machine). Run from the repository root::

    python benchmarks/bench_scores_import.py [--responses 10000] [--seed 1]

The CSV is generated with a seeded numpy Generator: 100 dyads x 20 sessions, five responses
per session from five built-in instruments (gad7, who5, ors before; wai-sr, srs after), with
about 2% of item cells missing (NA, REF, NR). Prints the time to set up the study (not part of
the figure), to import the file, and to re-import it (a no-op by file hash), plus the time to
read all scores back.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studymgr import create_study  # noqa: E402
from studymgr.runs import entry
from studymgr.runs.questionnaires import _builtins  # noqa: E402

PLAN = [("gad7", "pre"), ("who5", "pre"), ("ors", "pre"), ("wai-sr", "post"), ("srs", "post")]


def write_csv(path: Path, n_responses: int, rng: np.random.Generator) -> tuple[int, int]:
    """Write the CSV; return (dyads, sessions per dyad) it needs."""
    instruments = _builtins()
    per_session = len(PLAN)
    n_sessions = -(-n_responses // per_session)
    n_dyads = max(1, -(-n_sessions // 20))
    per_dyad = -(-n_sessions // n_dyads)
    n_items = max(len(instruments[name].items) for name, _ in PLAN)
    header = ["dyad", "session", "role", "timing", "instrument"] + [
        f"i{k}" for k in range(1, n_items + 1)]
    written = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for d in range(1, n_dyads + 1):
            for s in range(1, per_dyad + 1):
                for name, timing in PLAN:
                    if written == n_responses:
                        break
                    inst = instruments[name]
                    cells = []
                    for item in inst.items:
                        allowed = item.allowed_values()
                        if rng.random() < 0.02:
                            cells.append(str(rng.choice(["NA", "REF", "NR", ""])))
                        else:
                            cells.append(str(allowed[rng.integers(len(allowed))]))
                    cells += [""] * (n_items - len(cells))
                    out.writerow([f"D{d:03d}", s, "patient", timing, name, *cells])
                    written += 1
    return n_dyads, per_dyad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "responses.csv"
        n_dyads, per_dyad = write_csv(csv_path, args.responses, rng)
        size = csv_path.stat().st_size
        t0 = time.perf_counter()
        study = create_study(folder / "bench.db", user="bench")
        with study.transaction():  # one transaction for the setup (the API commits per call)
            for d in range(1, n_dyads + 1):
                study.add_dyad(f"D{d:03d}", therapist="T01", patient=f"P{d:03d}")
                for s in range(1, per_dyad + 1):
                    study.add_session(f"D{d:03d}", s)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = entry.import_responses(study, csv_path)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = entry.import_responses(study, csv_path)
        second = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = study.scores()
        read = time.perf_counter() - t0
        study.close()
    print(f"setup: {n_dyads} dyads x {per_dyad} sessions in {setup:.2f} s (not measured)")
    print(f"import: {result.imported} responses ({result.rows} rows, {size / 1e6:.1f} MB) in "
          f"{first:.2f} s  [target < 10 s]")
    print(f"re-import (no-op): {second:.3f} s -> {again.message()}")
    print(f"read back: {len(scores)} score rows in {read:.2f} s")


if __name__ == "__main__":
    main()
