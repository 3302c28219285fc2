"""Benchmark (run on demand with ``make bench``, never in the test suite).

Generates the whole département (1 471 468 persons by default), then ingests the five
deliveries, each convention in its own process so that its peak memory is its own. Prints
time and peak memory per stage and rows per second, and the keyed hashing rate.
Targets (issue #2, 2 cores): ingest of the five deliveries < 30 s, peak memory < 4 GB,
keyed hashing ≥ 1 M rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_child(code: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of a Python child process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"étape en échec (code {status >> 8})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def hashing_rate() -> float:
    import polars as pl

    from anonymization.pseudonymize import Pseudonymizer

    values = pl.Series("nir", [f"1{i:014d}" for i in range(1_000_000)])
    pseudonymizer = Pseudonymizer(os.urandom(32))
    start = time.perf_counter()
    pseudonymizer.pseudonyms(values, "nir")
    return len(values) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_471_468)
    parser.add_argument("--period", default="2025-06")
    parser.add_argument("--keep", action="store_true", help="garder le dossier de travail")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="recours-bench-"))
    env = {**os.environ, "RECOURS_PSEUDO_KEY": os.urandom(32).hex()}
    print(f"dossier de travail : {home}")

    rate = hashing_rate()
    print(f"hachage à clé (HMAC-SHA256) : {rate / 1e6:.2f} M valeurs/s (cible ≥ 1 M/s)")

    seconds, peak, _ = run_child(
        "from pathlib import Path; from recours.synth import synthesize; "
        f"synthesize(Path({str(home)!r}), persons={args.persons}, seed=0, period={args.period!r})",
        env,
    )
    print(f"génération ({args.persons:,} personnes) : {seconds:.1f} s, pic {peak:,.0f} Mo")

    total_seconds, total_peak, total_rows = 0.0, 0.0, 0
    header = f"{'convention':<10} {'lignes':>9} {'s':>6} {'lignes/s':>10} {'pic Mo':>8}  étapes (s)"
    print(header)
    for convention in ("caf31", "cpam31", "carsatmp", "ftocc", "cd31"):
        code = (
            "import json; from recours.home import Home; "
            "from pipelines.ingest.run import ingest_convention; "
            f"o = ingest_convention(Home(__import__('pathlib').Path({str(home)!r})), "
            f"{convention!r}); print(json.dumps([x.summary() for x in o]))"
        )
        seconds, peak, out = run_child(code, env)
        summaries = json.loads(out.strip().splitlines()[-1])
        rows = sum(s["rows_read"] for s in summaries)
        stages = {k: v for s in summaries for k, v in s["seconds"].items()}
        status = ",".join(s["status"] for s in summaries)
        print(
            f"{convention:<10} {rows:>9,} {seconds:>6.1f} {rows / seconds:>10,.0f} {peak:>8,.0f}"
            f"  {stages} [{status}]"
        )
        total_seconds += seconds
        total_peak = max(total_peak, peak)
        total_rows += rows
    print(
        f"{'total':<10} {total_rows:>9,} {total_seconds:>6.1f} "
        f"{total_rows / total_seconds:>10,.0f} {total_peak:>8,.0f}"
        "  (cible : < 30 s, < 4 096 Mo ; chaque convention paie aussi le démarrage de Python)"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(home)


if __name__ == "__main__":
    main()
