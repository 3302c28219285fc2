"""The one place the disclosure settings are read: ``indicators/secret.yaml``.

The threshold T comes from the conventions (the DPO signs it partner by partner); what the
release gate needs besides — the protection width and the relations between indicators an
attacker can deduce from the catalogue's definitions — is data a DPO reviews, so it lives in a
YAML file next to the catalogue, not in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.publish.model import PublicationError
from recours.errors import YamlFileError
from recours.yamlfile import Vocabulary, check, read_yaml

SECRET_FILE = Path(__file__).resolve().parents[2] / "indicators" / "secret.yaml"
DEFAULT_WIDTH = 5

Count = Literal["population", "non_recours", "population - non_recours"]
_IDENTIFIER = "lettres minuscules, chiffres et _, en commençant par une lettre"
_VOCABULARY = Vocabulary(formats={"id": _IDENTIFIER, "indicateur": _IDENTIFIER})


class _Side(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indicateur: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    compte: Count


class _Relation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    explication: str = Field(min_length=1)
    petit: _Side
    grand: _Side


class _SecretFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    largeur_protection: int = Field(ge=1)
    relations: list[_Relation] = []


@dataclass(frozen=True)
class Relation:
    """``petit ≤ grand`` for every territory and household type, age band ``ensemble``."""

    id: str
    small_indicator: str
    small_count: Count
    large_indicator: str
    large_count: Count


@dataclass(frozen=True)
class Protection:
    """What the gate requires (``width``) and what it assumes the attacker knows (``relations``)."""

    width: int = DEFAULT_WIDTH
    relations: tuple[Relation, ...] = ()


def load_protection(path: Path | None = None) -> Protection:
    """Read and check ``secret.yaml``; errors name the file and line."""
    path = Path(path) if path is not None else SECRET_FILE
    try:
        document = read_yaml(path)
    except YamlFileError as exc:
        raise PublicationError(f"paramètres du secret illisibles : {exc}") from None
    parsed, problems = check(document, _SecretFile, _VOCABULARY)
    if parsed is None:
        raise PublicationError("paramètres du secret invalides : " + "\n".join(map(str, problems)))
    ids = [relation.id for relation in parsed.relations]
    if len(set(ids)) != len(ids):
        raise PublicationError(f"{path.name} : identifiant de relation en double")
    return Protection(
        width=parsed.largeur_protection,
        relations=tuple(
            Relation(r.id, r.petit.indicateur, r.petit.compte, r.grand.indicateur, r.grand.compte)
            for r in parsed.relations
        ),
    )
