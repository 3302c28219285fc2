"""Benchmark (run on demand with ``make bench``, never in the test suite).

Generates the whole département (1 471 468 persons by default), then ingests the five
deliveries in one process, as `recours run` does. Prints
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants (the ingest pool's workers)."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree) / 2**20


def run_child(code: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB of the child and its descendants, stdout) of a Python child."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(child.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stdout is not None
    out = child.stdout.read()
    status = child.wait()
    done.set()
    sampler.join()
    if status != 0:
        raise SystemExit(f"étape en échec (code {status})")
    return time.perf_counter() - start, peak, out


def hashing_rate() -> float:
    import polars as pl

    from anonymization.pseudonymize import Pseudonymizer

    values = pl.Series("nir", [f"1{i:014d}" for i in range(1_000_000)])  # all distinct
    pseudonymizer = Pseudonymizer(os.urandom(32))
    best = float("inf")
    for _ in range(3):  # the best of three: the machine is shared
        start = time.perf_counter()
        pseudonymizer.pseudonyms(values, "nir")
        best = min(best, time.perf_counter() - start)
    return len(values) / best


def pii_rate(values: int = 20_000) -> float:
    """Distinct free-text values scanned per second by presidio (French NER included)."""
    from anonymization.pii_scan import get_analyzer, scan_column

    get_analyzer()
    notes = [
        f"RDV le {1 + i % 28}/03 avec Mme Martin{i % 50}, dossier RSA à compléter (réf. {i})"
        for i in range(values)
    ]
    start = time.perf_counter()
    scan_column("OBSERVATIONS", notes, max_values=values)
    return values / (time.perf_counter() - start)


def linkage_quality(home: Path) -> None:
    """Pairwise precision and recall of the linkage against the planted truth."""
    import duckdb

    from pipelines.crossing.deliveries import for_period
    from pipelines.crossing.linkage import Source, link
    from recours.home import Home
    from recours.schemas import load_schemas
    from synth.scoring import score, truth_of_records

    chosen = for_period(Home(home), _period(home), load_schemas())
    # the algorithm on all five sources at once (the pipeline links only authorized crossings)
    con = duckdb.connect()
    link(con, "essai", [Source(c, d.parquet) for c, d in sorted(chosen.items())])
    liens = con.sql("select rid, source, personne_id, lien from liens").pl()
    con.close()
    truth = truth_of_records(home, {c: d.parquet for c, d in chosen.items()})
    result = score(liens, truth)
    print(
        f"  appariement contre la vérité plantée : précision {result.precision:.4%}, "
        f"rappel {result.recall:.4%} ({result.true_pairs:,} paires vraies) "
        "(cible : ≥ 99,5 % et ≥ 99 %)"
    )


READ_FLOOR = """
import json, time
from pathlib import Path
import duckdb, fastexcel, yaml
home = Path({home!r})
start, rows = time.perf_counter(), {{}}
con = duckdb.connect()
for design in sorted(Path("schemas").glob("*.yaml")):
    spec = yaml.safe_load(design.read_text(encoding="utf-8"))
    convention = design.stem.split("_")[0]
    for path in sorted((home / "landing" / convention).glob("*")):
        if spec["format"] == "xlsx":
            reader = fastexcel.read_excel(str(path))
            rows[path.name] = sum(reader.load_sheet(n).height for n in reader.sheet_names)
            continue
        encoding = "utf-8" if spec["encoding"].startswith("utf-8") else "latin-1"
        rows[path.name] = con.execute(
            "select count(*) from read_csv(?, delim = ?, encoding = ?, header = true, "
            "all_varchar = true, strict_mode = false)",
            [str(path), spec["separator"], encoding],
        ).fetchone()[0]
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": rows}}))
"""


def read_floor(home: Path, env: dict[str, str]) -> float:
    """What a user compares the run with: DuckDB reading the five delivery files (fastexcel for
    the workbook, as DuckDB's Excel reader would need an extension downloaded) and counting
    their rows. Everything the pipeline does is overhead on top of it."""
    seconds, peak, out = run_child(READ_FLOOR.format(home=str(home)), env)
    result = json.loads(out.strip().splitlines()[-1])
    print(
        f"plancher de lecture (DuckDB lit et compte les cinq livraisons) : "
        f"{result['seconds']:.1f} s ({seconds:.1f} s avec le lancement), pic {peak:,.0f} Mo, "
        f"{sum(result['rows'].values()):,} lignes"
    )
    return float(result["seconds"])


def zone_coverage(home: Path) -> None:
    """What the analysts see, from the published Parquet files and the restricted audit: per
    indicator, the zones with a value and the share of the target population they cover
    (targets of issue 12: ≥ 95 % of zones, ≥ 99 % of the population), and per level the share
    of rows withheld by the primary secret alone, then with the secondary secret."""
    import polars as pl

    published = pl.read_parquet(home / "published" / "indicateurs.parquet")
    period = published["periode"].max()
    rows = published.filter(
        (pl.col("periode") == period)
        & (pl.col("tranche_age") == "ensemble")
        & (pl.col("type_menage") == "ensemble")
    )
    audit = json.loads((home / "audit" / "divulgation" / f"{period}.json").read_text("utf-8"))
    primary: dict[tuple[str, str], int] = {}
    for line in audit["lignes"]:
        if line["table"] == "indicateurs" and line["motif"] == "primaire":
            key = (line["indicateur"], line["niveau"])
            primary[key] = primary.get(key, 0) + 1
    every = published.filter(pl.col("periode") == period)
    print("zones d'observation (cible : valeur dans ≥ 95 % des zones, ≥ 99 % de la population) :")
    for indicator in sorted(rows["indicateur"].unique()):
        mine = rows.filter(pl.col("indicateur") == indicator)
        zones = mine.filter(pl.col("niveau") == "zone")
        shown = zones.filter(~pl.col("secret"))
        target = mine.filter(pl.col("niveau") == "departement")["population"].item()
        covered = shown["population"].sum() / target if target else 0.0
        print(
            f"  {indicator:<24} {shown.height:>3}/{zones.height} zones avec une valeur "
            f"({shown.height / zones.height:.1%}), {covered:.2%} de la population cible"
        )
    print("part des lignes sous secret par niveau : secret primaire seul → après le secondaire")
    for indicator in sorted(every["indicateur"].unique()):
        parts = []
        for level in ("departement", "epci", "zone", "commune"):
            at = every.filter((pl.col("indicateur") == indicator) & (pl.col("niveau") == level))
            before = primary.get((indicator, level), 0) / at.height
            parts.append(f"{level} {before:.1%} → {at['secret'].mean():.1%}")
        print(f"  {indicator:<24} " + ", ".join(parts))
    print(f"  toutes lignes : {every['secret'].mean():.1%} sous secret")


def _period(home: Path) -> str:
    return json.loads((home / "truth" / "meta.json").read_text(encoding="utf-8"))["period"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_471_468)
    parser.add_argument("--period", default="2025-06")
    parser.add_argument("--keep", action="store_true", help="garder le dossier de travail")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="recours-bench-"))
    env = {**os.environ, "RECOURS_PSEUDO_KEY": os.urandom(32).hex()}
    print(f"dossier de travail : {home}")
    table: list[tuple[str, float, float | None]] = []  # stage, seconds, peak MB

    rate = hashing_rate()
    print(f"hachage à clé (HMAC-SHA256) : {rate / 1e6:.2f} M valeurs/s (cible ≥ 2 M/s)")
    print(f"détection de données personnelles (presidio) : {pii_rate():,.0f} valeurs distinctes/s")

    seconds, peak, _ = run_child(
        "from pathlib import Path; from synth import synthesize; "
        f"synthesize(Path({str(home)!r}), persons={args.persons}, seed=0, period={args.period!r})",
        env,
    )
    print(f"génération ({args.persons:,} personnes) : {seconds:.1f} s, pic {peak:,.0f} Mo")

    # All five deliveries in one process, as `recours run` does: libraries load once.
    code = (
        "import json, time; from pathlib import Path; t = time.perf_counter(); "
        "from recours.home import Home; from pipelines import cycle; "
        "import great_expectations, presidio_analyzer; "
        "print(json.dumps({'import': time.perf_counter() - t})); "
        f"o = cycle.ingest(Home(Path({str(home)!r}))); "
        "print(json.dumps([x.summary() for x in o]))"
    )
    seconds, peak, out = run_child(code, env)
    lines = out.strip().splitlines()
    imports = json.loads(lines[-2])["import"]
    summaries = json.loads(lines[-1])
    print(
        f"ingestion des cinq livraisons : {seconds:.1f} s dont {imports:.1f} s de chargement "
        f"des bibliothèques (processus principal), pic {peak:,.0f} Mo, tous processus "
        "confondus (cible : < 30 s, < 4 096 Mo)"
    )
    table.append(("ingestion des cinq livraisons", seconds, peak))
    print(f"{'livraison':<36} {'lignes':>9} {'s':>6} {'lignes/s':>10}  étapes (s)")
    total_rows = 0
    for s in summaries:
        busy = sum(s["seconds"].values())
        total_rows += s["rows_read"]
        stages = " ".join(f"{name} {value:.1f}" for name, value in s["seconds"].items())
        print(
            f"{s['file']:<36} {s['rows_read']:>9,} {busy:>6.1f} {s['rows_read'] / busy:>10,.0f}"
            f"  {stages} [{s['status']}]"
        )
    print(f"{'total':<36} {total_rows:>9,} {seconds:>6.1f} {total_rows / seconds:>10,.0f}")

    # Crossing and publication, in their own process (as the crossing DAG's task); each stage
    # through pipelines.cycle, the functions `recours run` and the DAGs call.
    code = (
        "import json, time; from pathlib import Path; "
        "from recours.home import Home; from pipelines import cycle; "
        "t = time.perf_counter(); "
        f"s = cycle.cross_and_publish(Home(Path({str(home)!r}))); "
        "print(json.dumps({'seconds': time.perf_counter() - t, 'moves': s.linkage_moves, "
        "'stages': s.seconds, 'crossings': s.crossings, "
        "'rows': s.rows, 'secret': s.secret_share, 'rates': s.national_rates, "
        "'disclosure': s.disclosure}))"
    )
    seconds, peak, out = run_child(code, env)
    result = json.loads(out.strip().splitlines()[-1])
    print(
        f"croisement et publication : {seconds:.1f} s (dont {result['seconds']:.1f} s de travail), "
        f"pic {peak:,.0f} Mo (cible : < 30 s, < 4 096 Mo)"
    )
    table.append(("croisement et publication", seconds, peak))
    for name, value in result["stages"].items():
        table.append((f"  dont {name}", value, None))
    durations = result["disclosure"]["durees_s"]
    table.append(
        (
            "    dont secret secondaire + audit",
            durations["secret_secondaire"] + durations["audit"],
            None,
        )
    )
    stages = ", ".join(f"{name} {value:.1f} s" for name, value in result["stages"].items())
    print(f"  étapes : {stages}")
    print("  croisements (conventions liées, enregistrements liés par paire et par niveau) :")
    for crossing in result["crossings"]:
        print(f"    {crossing['croisement']:<28} {', '.join(crossing['indicateurs'])}")
        for pair in crossing["paires_liees"]:
            print(
                f"      {pair['source']:>9} ↔ {pair['autre_source']:<9} {pair['lien']:<7} "
                f"{pair['enregistrements']:>9,}"
            )
    print(f"  passes d'appariement (groupes déplacés) : {result['moves']}")
    print(f"  lignes publiées : {result['rows']} ; part sous secret : {result['secret']}")
    disclosure = result["disclosure"]
    print(
        f"  secret : verdict {disclosure['verdict']}, {disclosure['lignes_primaires']} lignes "
        f"primaires, {disclosure['lignes_secondaires']} secondaires, {disclosure['tours']} tours ; "
        f"secret secondaire {disclosure['durees_s']['secret_secondaire']:.1f} s, "
        f"audit de l'attaquant {disclosure['durees_s']['audit']:.1f} s (cible : < 60 s)"
    )
    print("  part des lignes sous secret, par indicateur et niveau :")
    for name, shares in disclosure["part_secret_par_niveau"].items():
        levels = ", ".join(f"{level} {share:.1%}" for level, share in sorted(shares.items()))
        print(f"    {name:<24} {levels}")
    report_code = (
        "import json, time; from pathlib import Path; from recours.home import Home; "
        "from pipelines import cycle; t = time.perf_counter(); "
        f"cycle.report(Home(Path({str(home)!r}))); "
        "print(json.dumps({'seconds': time.perf_counter() - t}))"
    )
    seconds, peak, out = run_child(report_code, env)
    report = json.loads(out.strip().splitlines()[-1])
    print(
        f"rapport des analystes et exports : {report['seconds']:.1f} s "
        f"({seconds:.1f} s avec le lancement), "
        f"pic {peak:,.0f} Mo (cible : < 20 s)"
    )
    table.append(("rapport des analystes et exports", seconds, peak))
    floor = read_floor(home, env)
    zone_coverage(home)
    linkage_quality(home)
    whole = sum(row[1] for row in table if not row[0].startswith(" "))
    print(f"\nrésumé, {args.persons:,} personnes :")
    print(f"  {'étape':<40} {'s':>8} {'pic Mo':>9}")
    for name, seconds, peak in table:
        shown = "" if peak is None else f"{peak:,.0f}"
        print(f"  {name:<40} {seconds:>8.1f} {shown:>9}")
    print(f"  {'traitement entier':<40} {whole:>8.1f}")
    print(f"  {'plancher de lecture':<40} {floor:>8.1f}")
    print(f"  rapport au plancher de lecture : {whole / floor:.1f} × (cible : ≤ 5 ×)")
    if not args.keep:
        import shutil

        shutil.rmtree(home)


if __name__ == "__main__":
    main()
