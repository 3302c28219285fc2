"""Statistical disclosure control: the attacker audit behind the release gate.

Generic on purpose: the publication code describes its tables as a :class:`System` of cells and
linear relations; :func:`attack` computes what an attacker deduces about every withheld cell and
:func:`audit` says whether the sensitive ones stay protected (see ``docs/regles.md``, "Secret
statistique").
"""

from anonymization.disclosure.attacker import AuditResult, Interval, attack, audit
from anonymization.disclosure.model import Cell, System, separable_parts

__all__ = ["AuditResult", "Cell", "Interval", "System", "attack", "audit", "separable_parts"]
