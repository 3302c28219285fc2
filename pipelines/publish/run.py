"""``publish``: every computed indicator of a period, aggregated, protected and written.

The same function runs under Airflow and from ``recours run``. It receives unit-level rows
(pseudonymous) and writes only counts: the unit ids are used to check, just before writing,
that none of them appears anywhere in what is about to be published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.publish.aggregate import aggregate
from pipelines.publish.attacker_view import CONNUS_KEY, ROW_KEY
from pipelines.publish.model import (
    KEYS,
    TABLES,
    IndicatorUnits,
    PublicationError,
    check_period,
    conform,
    empty,
)
from pipelines.publish.protection import Protection, load_protection
from pipelines.publish.restricted_audit import disclosure_summary, write_restricted_audit
from pipelines.publish.secondary import check_gate, previous_secrets, protect
from pipelines.publish.secret import flag_primary, withhold
from pipelines.publish.tables import rows_frame
from pipelines.publish.territories import territoires_table
from pipelines.publish.write import DATABASE, merge, read_previous, write_publication


@dataclass(frozen=True)
class PublicationSummary:
    """What was published: for the run's report, the audit log and XComs (``summary()``)."""

    path: Path  # published/recours.duckdb
    period: str
    periods: tuple[str, ...]  # every period now published
    rows: dict[str, int]  # table -> rows in the new publication, all periods
    secret_share: dict[str, float]  # indicateurs / connus -> share of this period's rows
    secret_share_by_indicator: dict[str, float]  # indicator -> share of its indicateurs rows
    excluded: dict[str, dict[str, int]]  # indicator -> reason -> units left out
    files: tuple[Path, ...]
    disclosure: dict[str, Any]  # the gate's verdict and figures (see restricted_audit.summary)

    def summary(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "path": str(self.path),
            "period": self.period,
            "periods": list(self.periods),
            "rows": dict(self.rows),
            "secret_share": dict(self.secret_share),
            "secret_share_by_indicator": dict(self.secret_share_by_indicator),
            "excluded": {name: dict(counts) for name, counts in self.excluded.items()},
            "files": [str(path) for path in self.files],
            "disclosure": dict(self.disclosure),
        }


def _share(frame: pl.DataFrame) -> float:
    return round(int(frame["secret"].sum()) / frame.height, 6) if frame.height else 0.0


def _exclusion_rows(period: str, excluded: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Units left out of an indicator's grid, for ``qualite``: the ``convention`` column holds
    the indicator id, the measure is ``unites_<reason>`` (always ``hors_departement``, the
    others only when some unit had that reason)."""
    return [
        {"periode": period, "convention": name, "mesure": f"unites_{reason}", "valeur": count}
        for name, counts in excluded.items()
        for reason, count in counts.items()
        if count or reason == "hors_departement"
    ]


def _check_keys(tables: dict[str, pl.DataFrame]) -> None:
    for table, keys in KEYS.items():
        if tables[table].select(keys).is_duplicated().any():
            raise PublicationError(f"table {table} : plusieurs lignes pour la même clé {keys}")


def _check_no_unit_id(tables: dict[str, pl.DataFrame], unit_ids: Sequence[pl.Series]) -> None:
    """Invariant: nothing individual leaves. The message names the place, never the value.

    The published strings are few (codes, names, labels): the millions of ids are scanned
    against them, not the other way round.
    """
    cells = {
        (table, column): frame[column].drop_nulls().unique()
        for table, frame in tables.items()
        for column, kind in frame.schema.items()
        if kind == pl.String
    }
    published = pl.concat([pl.Series([], dtype=pl.String), *cells.values()]).unique().implode()
    for ids in unit_ids:
        found = ids.filter(ids.is_in(published))
        if found.is_empty():
            continue
        for (table, column), values in cells.items():
            if values.is_in(found.implode()).any():
                raise PublicationError(
                    f"identifiant d'unité trouvé dans la table {table}, colonne {column} : "
                    "publication refusée"
                )


def publish(
    published_dir: Path,
    period: str,
    indicators: Sequence[IndicatorUnits],
    catalogue_rows: Iterable[Mapping[str, Any]],
    metadata_rows: Iterable[Mapping[str, Any]],
    quality_rows: Iterable[Mapping[str, Any]],
    restricted_dir: Path | None = None,
    protection: Protection | None = None,
    progress: Callable[[str], None] | None = None,
    before_install: Callable[[PublicationSummary], None] | None = None,
) -> PublicationSummary:
    """Publish ``period``: aggregate, primary and secondary secret, audit, merge, write.

    The attacker audit is the release gate: when a sensitive count stays recomputable, the
    restricted audit is written to ``restricted_dir`` (the DPO's, never ``published/``) and
    ``PublicationError`` is raised with nothing replaced; likewise on an input that breaks the
    contract. ``protection`` defaults to ``indicators/secret.yaml``. ``before_install`` receives
    the summary once every file is written, before any is moved into place (see
    ``write_publication``). An indicator whose ``known`` is false has no ``connus`` rows.
    """
    check_period(period)
    published_dir = Path(published_dir)
    names = [units.indicator for units in indicators]
    if len(set(names)) != len(names):
        raise PublicationError("le même indicateur est fourni deux fois")

    protection = protection or load_protection()
    indicateurs, connus, excluded, unit_ids = [], [], {}, []
    for units in indicators:
        rows, known, left_out = aggregate(units, period)
        rows, known = flag_primary(rows, known, units.threshold)
        indicateurs.append(rows)
        if units.known:
            connus.append(known)
        excluded[units.indicator] = left_out
        unit_ids.append(units.units["unite_id"].cast(pl.String))

    previous = read_previous(published_dir)
    earlier = {
        table: previous[table].filter(pl.col("periode") < period)
        for table in ("indicateurs", "connus")
    }
    pattern = protect(
        conform(pl.concat([empty("indicateurs"), *indicateurs]), "indicateurs"),
        conform(pl.concat([empty("connus"), *connus]), "connus"),
        territoires_table(),
        {units.indicator: units.threshold for units in indicators},
        protection,
        previous={
            "i": previous_secrets(earlier["indicateurs"], ROW_KEY),
            "c": previous_secrets(earlier["connus"], CONNUS_KEY),
        },
        progress=progress,
    )
    audit_files: tuple[Path, ...] = ()
    if restricted_dir is not None:
        audit_files = write_restricted_audit(Path(restricted_dir), period, pattern)
    check_gate(pattern, str(audit_files[0]) if audit_files else "(audit restreint non écrit)")
    protected_i, protected_c = withhold(pattern.indicateurs, pattern.connus)

    fresh = {
        "indicateurs": protected_i,
        "connus": protected_c,
        "catalogue": rows_frame("catalogue", catalogue_rows),
        "territoires": territoires_table(),
        "metadonnees": rows_frame("metadonnees", metadata_rows),
        "qualite": rows_frame("qualite", [*quality_rows, *_exclusion_rows(period, excluded)]),
    }
    tables = merge(previous, fresh, period)
    periods = tuple(sorted({*tables["indicateurs"]["periode"].to_list(), period}))
    if "periodes_publiees" not in tables["metadonnees"]["cle"].to_list():
        extra = pl.DataFrame({"cle": ["periodes_publiees"], "valeur": [", ".join(periods)]})
        tables["metadonnees"] = pl.concat([tables["metadonnees"], extra])
    _check_keys(tables)
    _check_no_unit_id(tables, unit_ids)

    shares = {"indicateurs": _share(fresh["indicateurs"]), "connus": _share(fresh["connus"])}
    by_indicator = {
        name: _share(fresh["indicateurs"].filter(pl.col("indicateur") == name)) for name in names
    }
    summary = PublicationSummary(
        path=published_dir / DATABASE,
        period=period,
        periods=periods,
        rows={table: tables[table].height for table in TABLES},
        secret_share=shares,
        secret_share_by_indicator=by_indicator,
        excluded=excluded,
        files=(),
        disclosure=disclosure_summary(pattern, audit_files),
    )
    files = write_publication(
        published_dir,
        tables,
        before_install=(lambda: before_install(summary)) if before_install else None,
    )
    return replace(summary, files=tuple(files))
