"""Turn delivery records into the text each partner writes, column by column.

Pure formatting: every random decision was taken in ``deliveries.py``, so rendering a slice of
lines twice gives the same text, and files can be written slice by slice with bounded memory.
Column order and names come from the schema files (``schemas/*.yaml``), the one description of
the layouts that the reader and the validation suite also use.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth import contact, nir
from synth.dates import EXCEL_EPOCH_SHIFT, days_from_parts, days_in_month
from synth.deliveries import NIR_ABSENT, NIR_SPACED, NIR_TYPO, QUALITE
from synth.economy import CATEGORIES, SUPPORT
from synth.observations import CHILD_OF, PARENT_OF, SPOUSE_OF, NoteFacts, note
from synth.population import ADULT2, SITFAM, Population
from synth.spelling import MIXED_ACCENTS, apply_typos, spell
from synth.territory import CITY, Territory

INDEMNISATION = ("AUCUNE", "ARE", "ASS")
TYPE_CSS = ("GRATUITE", "PARTICIPATION")
SPACED_NIR = (r"^(.)(..)(..)(..)(...)(...)(..)$", "$1 $2 $3 $4 $5 $6 $7")


class Renderer:
    """Formats the lines of every delivery from one population."""

    def __init__(self, pop: Population, territory: Territory, seed: int) -> None:
        self.pop = pop
        self.territory = territory
        self.codes = pl.Series("code", territory.codes.astype(str), pl.String)
        self.commune_names = territory.names
        self.addresses = contact.household_addresses(
            seed, pop.households, territory.kind[pop.hh["commune"]] == CITY
        )
        self.phones = contact.phone_numbers(seed, pop.persons)
        width = max(len(codes) for codes in territory.postal_codes)
        self.postal_count = np.array([len(codes) for codes in territory.postal_codes])
        self.postal_table = pl.Series(
            "cp",
            [codes[i % len(codes)] for codes in territory.postal_codes for i in range(width)],
            pl.String,
        )
        self.postal_width = width

    # -- shared pieces -------------------------------------------------------------------

    def index(self, rows: pl.DataFrame) -> np.ndarray:
        return rows["person_id"].to_numpy() - 1

    def commune(self, rows: pl.DataFrame) -> pl.Series:
        return self.codes.gather(rows["commune"].cast(pl.Int64))

    def postal_code(self, rows: pl.DataFrame) -> pl.Series:
        commune = rows["commune"].to_numpy().astype(np.int64)
        hid = self.pop.pp["hid"][self.index(rows)]
        position = commune * self.postal_width + hid % self.postal_count[commune]
        return self.postal_table.gather(position)

    def surname(self, rows: pl.DataFrame, usage_first: bool = False) -> pl.Series:
        index = self.pop.pp["surname"][self.index(rows)].astype(np.int64)
        if usage_first:
            usage = rows["usage"].to_numpy()
            index = np.where(usage >= 0, usage, index)
        spelled = spell("surname", index, rows["style_nom"].to_numpy())
        return apply_typos(spelled, rows["typo_nom"].to_numpy())

    def usage_name(self, rows: pl.DataFrame) -> pl.Series:
        usage = rows["usage"].to_numpy().astype(np.int64)
        spelled = spell("surname", usage, rows["style_nom"].to_numpy())
        return apply_typos(spelled, rows["typo_nom"].to_numpy()).fill_null("")

    def given(self, rows: pl.DataFrame, every: np.ndarray | bool = False) -> pl.Series:
        """First given name, or all of them where ``every`` (separated by spaces)."""
        index = self.index(rows)
        style = rows["style_prenom"].to_numpy()
        parts = [spell("given", self.pop.pp["given1"][index], style)]
        every = np.broadcast_to(np.asarray(every, bool), (len(index),))
        for slot in ("given2", "given3"):
            extra = np.where(every, self.pop.pp[slot][index], -1)
            parts.append(spell("given", extra, style))
        frame = pl.DataFrame({f"g{k}": part for k, part in enumerate(parts)})
        joined = frame.select(
            pl.concat_str(["g0", "g1", "g2"], separator=" ", ignore_nulls=True).alias("given")
        )
        return apply_typos(joined.to_series(), rows["typo_prenom"].to_numpy())

    def birth_parts(self, rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Year, month, day as written (a typing slip where ``dob_typo`` says so)."""
        year = rows["birth_year"].to_numpy().astype(np.int64)
        month = rows["birth_month"].to_numpy().astype(np.int64)
        day = rows["birth_day"].to_numpy().astype(np.int64)
        if "dob_typo" in rows.columns:
            typo = rows["dob_typo"].to_numpy()
            swap = (typo == 1) & (day <= 12) & (day != month)
            shift = (typo != 0) & ~swap
            month, day = np.where(swap, day, month), np.where(swap, month, day)
            last = days_in_month(year, month)
            day = np.where(shift, np.where(day < last, day + 1, day - 1), day)
        return year, month, day

    def nir(self, rows: pl.DataFrame) -> pl.Series:
        shown = self.pop.nir.gather(self.index(rows))
        mode = rows["nir_mode"].to_numpy()
        if (mode == NIR_TYPO).any():
            typo_rows = np.flatnonzero(mode == NIR_TYPO)
            draws = rows["nir_draw"].to_numpy()[typo_rows]
            values = shown.gather(typo_rows).to_list()
            changed = [
                nir.with_typo(v, int(d), int(d) >> 4) for v, d in zip(values, draws, strict=True)
            ]
            shown = shown.scatter(typo_rows, pl.Series(changed, dtype=pl.String))
        frame = pl.DataFrame({"nir": shown, "mode": mode})
        return frame.select(
            pl.when(pl.col("mode") == NIR_ABSENT)
            .then(pl.lit(""))
            .when(pl.col("mode") == NIR_SPACED)
            .then(pl.col("nir").str.replace(*SPACED_NIR))
            .otherwise(pl.col("nir"))
        ).to_series()

    def address(self, rows: pl.DataFrame, upper: bool) -> pl.Series:
        hid = self.pop.pp["hid"][self.index(rows)]
        unique, inverse = np.unique(hid, return_inverse=True)
        a = self.addresses
        texts = [
            contact.address_text(
                int(a["street"][h]),
                int(a["number"][h]),
                int(a["bis"][h]),
                int(a["flat"][h]),
                int(a["building"][h]),
                upper,
            )
            for h in unique
        ]
        return pl.Series("adresse", texts, pl.String).gather(inverse)

    # -- the five layouts ----------------------------------------------------------------

    def caf31(self, rows: pl.DataFrame) -> pl.DataFrame:
        year, month, day = self.birth_parts(rows)
        return pl.DataFrame(
            {
                "NUMALLOC": rows["numalloc"].cast(pl.String).str.zfill(7),
                "QUALITE": _labels(QUALITE, rows["qualite"]),
                "NIR": self.nir(rows),
                "NOMNAIS": self.surname(rows),
                "NOMUSAGE": self.usage_name(rows),
                "PRENOM": self.given(rows, rows["prenoms_all"].to_numpy()),
                "DTNAIS": _dates(year, month, day, "%d/%m/%Y"),
                "SEXE": rows["sex"].cast(pl.String),
                "ADRESSE": self.address(rows, upper=True),
                "CODEPOSTAL": self.postal_code(rows),
                "CODECOMMUNE": self.commune(rows),
                "SITFAM": _labels(SITFAM, rows["sitfam"]),
                "NBENFCHARGE": rows["nbenfcharge"].cast(pl.String),
                "RESSTRIM": _amount(rows["resstrim"], ","),
                "REVACTTRIM": _amount(rows["revacttrim"], ","),
                "MTAL": _amount(rows["mtal"], ","),
                "DROITRSA": _yes_no(rows["droitrsa"]),
                "DROITPPA": _yes_no(rows["droitppa"]),
                "DROITAAH": _yes_no(rows["droitaah"]),
            }
        )

    def cpam31(self, rows: pl.DataFrame) -> pl.DataFrame:
        year, month, day = self.birth_parts(rows)
        return pl.DataFrame(
            {
                "nir": rows["nir_shown"],
                "nom_naissance": self.surname(rows),
                "prenom": self.given(rows),
                "date_naissance": _dates(year, month, day, "%Y-%m-%d"),
                "sexe": rows["sex"].cast(pl.String),
                "code_commune": self.commune(rows),
                "type_css": _labels(TYPE_CSS, rows["type_css"]),
                "date_debut_droit": _day_text(rows["date_debut"], "%Y-%m-%d"),
                "date_fin_droit": _day_text(rows["date_fin"], "%Y-%m-%d"),
            }
        )

    def carsatmp(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Mainframe export: names padded with spaces, 00 for an unknown day or month."""
        year, month, day = self.birth_parts(rows)
        unknown = rows["dob_unknown"].to_numpy()
        birth = pl.DataFrame(
            {
                "y": year,
                "m": np.where(unknown == 2, 0, month),
                "d": np.where(unknown > 0, 0, day),
            }
        ).select(
            pl.concat_str(
                [
                    pl.col("y").cast(pl.String),
                    pl.col("m").cast(pl.String).str.zfill(2),
                    pl.col("d").cast(pl.String).str.zfill(2),
                ]
            )
        )
        return pl.DataFrame(
            {
                "NIR": self.pop.nir.gather(self.index(rows)),
                "NOM": self.surname(rows).str.pad_end(32),
                "PRENOMS": self.given(rows, True).str.pad_end(40),
                "DATE_NAISSANCE": birth.to_series(),
                "SEXE": _labels(("", "M", "F"), rows["sex"]),
                "CODE_INSEE_RESIDENCE": self.commune(rows),
                "PENSION_MENSUELLE_BRUTE": _amount(rows["pension"], "."),
                "ASPA": rows["aspa"].cast(pl.Int8).cast(pl.String),
                "DATE_EFFET_PENSION": _day_text(rows["pension_start"], "%Y%m%d"),
            }
        )

    def ftocc(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Typed for Excel: texts, and dates as Excel serial numbers."""
        year, month, day = self.birth_parts(rows)
        letters = pl.Series([chr(65 + k) for k in range(26)])
        identifier = pl.DataFrame(
            {
                "n": rows["ft_number"].cast(pl.String).str.zfill(7),
                "l": letters.gather(rows["ft_letter"].cast(pl.Int64)),
            }
        ).select(pl.concat_str(["n", "l"]))
        birth = days_from_parts(year, month, day) + EXCEL_EPOCH_SHIFT
        return pl.DataFrame(
            {
                "IDENTIFIANT_FT": identifier.to_series(),
                "NIR": self.nir(rows),
                "NOM": self.surname(rows, usage_first=True),
                "PRENOM": self.given(rows),
                "DATE_NAISSANCE": birth,
                "SEXE": _labels(("", "H", "F"), rows["sex"]),
                "COMMUNE_INSEE": self.commune(rows),
                "CATEGORIE": _labels(CATEGORIES, rows["categorie"]),
                "INDEMNISATION": _labels(INDEMNISATION, rows["indemnisation"]),
                "DATE_INSCRIPTION": rows["date_inscription"] + EXCEL_EPOCH_SHIFT,
            }
        )

    def cd31(self, rows: pl.DataFrame) -> pl.DataFrame:
        year, month, day = self.birth_parts(rows)
        index = self.index(rows)
        phone_style = rows["phone_style"].to_numpy()
        phones = [
            contact.phone_text(int(d), int(s))
            for d, s in zip(self.phones[index], phone_style, strict=True)
        ]
        telephone = np.where(rows["phone_missing"].to_numpy(), "", np.array(phones, object))
        surname = self.surname(rows, usage_first=True)
        given = self.given(rows)
        return pl.DataFrame(
            {
                "ID_USAGER": rows["id_usager"].cast(pl.String),
                "NIR": self.nir(rows),
                "NOM": surname,
                "PRENOM": given,
                "DATE_NAISSANCE": _dates(year, month, day, "%d/%m/%Y"),
                "SEXE": _labels(("", "H", "F"), rows["sex"]),
                "CODE_COMMUNE": self.commune(rows),
                "ADRESSE": self.address(rows, upper=False),
                "TELEPHONE": pl.Series(telephone.tolist(), dtype=pl.String),
                "ACCOMPAGNEMENT": _labels(SUPPORT, rows["accompagnement"]),
                "APA": _yes_no(rows["apa"]),
                "PCH": _yes_no(rows["pch"]),
                "DATE_DERNIER_CONTACT": _day_text(rows["date_contact"], "%d/%m/%Y"),
                "OBSERVATIONS": self.observations(rows, surname, given, phones),
            }
        )

    def observations(
        self, rows: pl.DataFrame, surname: pl.Series, given: pl.Series, phones: list[str]
    ) -> pl.Series:
        pp, hh = self.pop.pp, self.pop.hh
        index = self.index(rows)
        hid = pp["hid"][index]
        first, adults, children = hh["first"][hid], hh["adults"][hid], hh["children"][hid]
        # The relative a note mentions: an adult's first child, else the spouse; a child's
        # (or another dependant's) first adult.
        is_adult = pp["role"][index] <= ADULT2
        spouse = np.where(index == first, first + 1, first)
        relative = np.where(
            is_adult,
            np.where(children > 0, first + adults, np.where(adults == 2, spouse, -1)),
            first,
        ).astype(np.int64)
        relation = np.where(is_adult, np.where(children > 0, CHILD_OF, SPOUSE_OF), PARENT_OF)
        relative_given = spell(
            "given",
            np.where(relative >= 0, pp["given1"][np.maximum(relative, 0)], -1),
            np.full(len(index), MIXED_ACCENTS),
        ).fill_null("")
        own_given = spell("given", pp["given1"][index], np.full(len(index), MIXED_ACCENTS))
        own_surname = spell("surname", pp["surname"][index], np.full(len(index), MIXED_ACCENTS))
        other_phones = self.phones[np.maximum(relative, 0)]
        address = self.address(rows, upper=False).to_list()
        postal = self.postal_code(rows).to_list()
        communes = self.commune_names[rows["commune"].to_numpy()]
        nirs = self.pop.nir.gather(index).to_list()
        draws = rows["notes"].to_numpy()
        contact_days = rows["date_contact"].to_numpy()
        dates = _day_text(pl.Series(contact_days), "%d/%m/%Y").to_list()
        later = _day_text(pl.Series(contact_days + 20 + draws % 60), "%d/%m/%Y").to_list()
        sexes = pp["sex"][index]
        texts = []
        for i, draw in enumerate(draws.tolist()):
            r = int(relative[i])
            facts = NoteFacts(
                civility="Mme" if sexes[i] == 2 else "M.",
                surname=surname[i],
                given=given[i],
                nir=nir.spaced(nirs[i]) if draw % 3 else nirs[i],
                phone=phones[i],
                other_phone=contact.phone_text(int(other_phones[i]), draw >> 7),
                email=contact.email_text(own_given[i], own_surname[i], draw >> 9),
                address=address[i],
                postal_code=postal[i],
                commune=str(communes[i]),
                relative_given=relative_given[i],
                relation=int(relation[i]),
                relative_female=bool(r >= 0 and pp["sex"][r] == 2),
                date=dates[i],
                date2=later[i],
            )
            texts.append(note(facts, draw))
        return pl.Series("OBSERVATIONS", texts, pl.String)


def _labels(labels: tuple[str, ...], codes: pl.Series) -> pl.Series:
    return pl.Series(labels, dtype=pl.String).gather(codes.cast(pl.Int64))


def _yes_no(flags: pl.Series) -> pl.Series:
    return _labels(("N", "O"), flags.cast(pl.Int64))


def _amount(cents: pl.Series, mark: str) -> pl.Series:
    """Cents as ``1234,56`` or ``1234.56``: exact, never through a float."""
    frame = pl.DataFrame({"c": cents.cast(pl.Int64)})
    return frame.select(
        pl.concat_str(
            [
                (pl.col("c") // 100).cast(pl.String),
                pl.lit(mark),
                (pl.col("c") % 100).cast(pl.String).str.zfill(2),
            ]
        )
    ).to_series()


def _day_text(days: pl.Series | np.ndarray, pattern: str) -> pl.Series:
    series = days if isinstance(days, pl.Series) else pl.Series(days)
    return series.cast(pl.Int32).cast(pl.Date).dt.strftime(pattern)


def _dates(year: np.ndarray, month: np.ndarray, day: np.ndarray, pattern: str) -> pl.Series:
    return _day_text(pl.Series(days_from_parts(year, month, day)), pattern)
