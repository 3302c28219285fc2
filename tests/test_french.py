"""The one French formatter: the console and every report print a figure the same way."""

from __future__ import annotations

from app.console import crossing_table
from pipelines.templating import percent as _percent
from recours import french


def test_rates_round_half_up_from_their_decimal_form():
    assert french.rate(0.0125) == "1,3\u202f%"  # the binary double is 0.01249999…
    assert french.rate(0.1835) == "18,4\u202f%"
    assert french.rate(0.18333) == "18,3\u202f%"
    assert french.rate(1.0) == "100,0\u202f%"
    assert french.rate(None) == french.MISSING


def test_numbers_points_and_periods():
    assert french.integer(1471468) == "1\u202f471\u202f468"
    assert french.integer(None) == french.MISSING
    assert french.decimal(1234.56) == "1\u202f234,6"
    assert french.points(0.032 * 100) == "+3,2\u202fpts"
    assert french.points(-0.4) == "−0,4\u202fpt"
    assert french.period_label("2026-10") == "octobre 2026"


def test_console_and_dpo_report_print_a_rate_as_the_analysts_report_does():
    table = crossing_table(
        {
            "periode": "2026-10",
            "indicateurs_calcules": ["rsa"],
            "taux_departement": {"rsa": 0.0125},
            "zones_avec_valeur": {"rsa": [143, 150]},
            "lignes_publiees": {"indicateurs": 1401, "connus": 19},
            "part_secret": {"indicateurs": 0.0125, "connus": None},
        }
    )
    cells = [str(cell) for column in table.columns for cell in column._cells]
    assert cells == ["rsa", "calculé", "1,3\u202f%", "143 sur 150"]
    assert table.caption.startswith("1\u202f401 lignes publiées dans indicateurs, 19 dans connus")
    assert "1,3\u202f% (indicateurs), – (connus)" in table.caption
    assert _percent(0.0125) == french.rate(0.0125)
