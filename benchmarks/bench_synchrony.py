"""Benchmark: band coherence for every channel pair of two 40-channel recordings, against pycwt.

Run by hand from the repository root::

    python benchmarks/bench_synchrony.py                 # 40 x 40 channels, 30,000 samples, 10 Hz
    python benchmarks/bench_synchrony.py --pycwt-pairs 3 --channels 20

Every variant runs in its own subprocess, so that its peak resident memory (``ru_maxrss``) is
its own. The studymgr variants time ``band_coherence(a, b, 10.0, band=(0.05, 0.10),
pairs="all")`` twice: the first call includes building the plan (which depends only on the
recording length, rate, convention and band), the second reuses it, as the HbR call after the
HbO call of one session does. ``pycwt.wct`` (significance off) is timed on a few pairs and
extrapolated to all pairs; its band averages are also compared with the studymgr pycwt-convention
results for those pairs. The synthetic signals are fNIRS-like: a strong AR(1) drift, a 0.08 Hz
oscillation partly shared between the two recordings, and white noise (seeded).

Prints a markdown table with wall and CPU times (CPU time counts every thread; on a machine
shared with other work it is the steadier figure) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BAND = (0.05, 0.10)


def _signals(channels: int, samples: int, sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    t = np.arange(samples) / sfreq

    def person() -> np.ndarray:
        drift = lfilter([1.0], [1.0, -0.99], rng.standard_normal((channels, samples)), axis=1)
        osc = np.sin(2 * np.pi * 0.08 * t + rng.uniform(0, 2 * np.pi, (channels, 1)))
        return drift + osc + rng.standard_normal((channels, samples))

    a = person()
    b = person() + 0.5 * a
    return a, b


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _run_variant(name: str, args: argparse.Namespace) -> dict:
    a, b = _signals(args.channels, args.samples, args.sfreq)
    base = _rss_mb()
    if name == "pycwt":
        import pycwt

        dt = 1.0 / args.sfreq
        t0, c0 = time.perf_counter(), time.process_time()
        values = []
        for p in range(args.pycwt_pairs):
            i, j = divmod(p, args.channels)
            wct, _, coi, freq, _ = pycwt.wct(a[i], b[j], dt, dj=1 / 12, s0=-1, J=-1, sig=False)
            period = 1 / freq
            rows = (period >= 1 / BAND[1]) & (period <= 1 / BAND[0])
            values.append(float(wct[rows][period[rows][:, None] <= coi[None, :]].mean()))
        scale = args.channels**2 / args.pycwt_pairs
        total = (time.perf_counter() - t0) * scale
        cpu = (time.process_time() - c0) * scale
        return {"name": name, "first": total, "repeat": None, "cpu": cpu,
                "pairs_timed": args.pycwt_pairs, "peak_mb": _rss_mb(), "base_mb": base,
                "values": values}
    sys.path.insert(0, str(ROOT))
    from studymgr.compute.synchrony.coherence import band_coherence

    convention, precision = name.split("-")
    dtype = np.float32 if precision == "float32" else np.float64
    times, cpus, out = [], [], None
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        out = band_coherence(a, b, args.sfreq, band=BAND, pairs="all", convention=convention,
                             dtype=dtype)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"name": name, "first": times[0], "repeat": times[1], "cpu": cpus[0],
            "peak_mb": _rss_mb(), "base_mb": base, "values": out.ravel().tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=40)
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--sfreq", type=float, default=10.0)
    parser.add_argument("--pycwt-pairs", type=int, default=2)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(_run_variant(args.variant, args)))
        return

    variants = ["grinsted-float64", "grinsted-float32", "pycwt-float64", "pycwt-float32",
                "pycwt"]
    load_start = os.getloadavg()[0]
    results = {}
    for name in variants:
        cmd = [sys.executable, __file__, "--variant", name, "--channels", str(args.channels),
               "--samples", str(args.samples), "--sfreq", str(args.sfreq),
               "--pycwt-pairs", str(args.pycwt_pairs)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"variant {name} failed:\n{proc.stderr}", file=sys.stderr)
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])

    pairs = args.channels**2
    load = os.getloadavg()[0]
    print(f"band_coherence, {args.channels} x {args.channels} channel pairs ({pairs}), "
          f"{args.samples} samples at {args.sfreq:g} Hz, band {BAND[0]}-{BAND[1]} Hz; "
          f"{os.cpu_count()} CPUs (load average {load_start:.1f} at start, {load:.1f} at end), "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print()
    print("| method | wall time, first call (s) | CPU time, first call (s) "
          "| wall time, plan reused (s) | speed-up vs pycwt (wall) | peak RSS (MB) "
          "| RSS before call (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ref = results.get("pycwt", {}).get("first")
    for name in variants:
        r = results.get(name)
        if r is None:
            continue
        if name == "pycwt":
            label = f"pycwt.wct, per pair (timed on {r['pairs_timed']}, x {pairs})"
        else:
            conv, prec = name.split("-")
            label = f"studymgr fast path, {conv} convention, {prec}"
        repeat = "" if r["repeat"] is None else f"{r['repeat']:.2f}"
        speed = "" if ref is None else f"{ref / r['first']:.0f}x"
        print(f"| {label} | {r['first']:.2f} | {r['cpu']:.2f} | {repeat} | {speed} "
              f"| {r['peak_mb']:.0f} | {r['base_mb']:.0f} |")
    print()
    if "pycwt" in results and "pycwt-float64" in results:
        ref_vals = np.array(results["pycwt"]["values"])
        for name in ("pycwt-float64", "pycwt-float32"):
            if name in results:
                got = np.array(results[name]["values"])[: len(ref_vals)]
                print(f"max |{name} - pycwt.wct| over the timed pairs: "
                      f"{np.abs(got - ref_vals).max():.1e}")
    if "grinsted-float64" in results and "grinsted-float32" in results:
        d = np.abs(np.array(results["grinsted-float64"]["values"])
                   - np.array(results["grinsted-float32"]["values"])).max()
        print(f"max |float32 - float64| (grinsted, all pairs): {d:.1e}")


if __name__ == "__main__":
    main()
