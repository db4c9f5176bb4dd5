"""The licence type catalogue: names (zh/en), document fields, sensitivity, level.

Each type is also a consent scope, ``licence:<type>``, and ``licence`` covers every
type (``idp.consent.categories`` builds the scopes from this catalogue). PIPL article
28 names "specific identity" and other information whose leak may harm a person as
sensitive personal information: the household register (family members, household
address) and the marriage certificate (marital status, spouse) are treated as
sensitive, asked for separately and released only at the substantial level. So is the
driving licence: its number is the holder's ID number (GA/T 947, the licence file
number aside), and DESIGN.md releases an ID number only under the citizen's separate,
explicit consent, at the level the ``id_number`` scope needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..authn.result import Acr

SCOPE_ALL = "licence"
SCOPE_PREFIX = "licence:"


@dataclass(frozen=True)
class LicenceType:
    code: str
    name_zh: str
    name_en: str
    required_fields: tuple[str, ...]
    optional_fields: tuple[str, ...] = ()
    sensitive: bool = False
    minimum_acr: Acr | None = None

    @property
    def scope(self) -> str:
        return SCOPE_PREFIX + self.code

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.required_fields, *self.optional_fields)

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


LICENCE_TYPES: dict[str, LicenceType] = {
    t.code: t
    for t in (
        LicenceType(
            code="driving_licence",
            name_zh="机动车驾驶证",
            name_en="Driving licence",
            required_fields=("name", "vehicle_classes"),
            optional_fields=("first_issued_on", "archive_number"),
            sensitive=True,  # the licence number is the ID number
            minimum_acr=Acr.SUBSTANTIAL,
        ),
        LicenceType(
            code="business_licence",
            name_zh="营业执照",
            name_en="Business licence",
            required_fields=("entity_name", "unified_social_credit_code"),
            optional_fields=(
                "entity_type",
                "legal_representative",
                "registered_capital",
                "address",
                "business_scope",
            ),
        ),
        LicenceType(
            code="household_register",
            name_zh="居民户口簿",
            name_en="Household register",
            required_fields=("household_head", "relationship_to_head", "address"),
            optional_fields=("household_type",),
            sensitive=True,
            minimum_acr=Acr.SUBSTANTIAL,
        ),
        LicenceType(
            code="marriage_certificate",
            name_zh="结婚证",
            name_en="Marriage certificate",
            required_fields=("name", "spouse_name"),
            optional_fields=("registration_authority",),
            sensitive=True,
            minimum_acr=Acr.SUBSTANTIAL,
        ),
    )
}


def licence_type(code: str) -> LicenceType | None:
    return LICENCE_TYPES.get(code)


def types_for_scopes(scopes: set[str] | frozenset[str] | list[str]) -> list[str]:
    """The licence types a set of granted scopes covers, in catalogue order."""
    granted = set(scopes)
    if SCOPE_ALL in granted:
        return list(LICENCE_TYPES)
    return [code for code, t in LICENCE_TYPES.items() if t.scope in granted]


def scopes_covering(code: str) -> tuple[str, ...]:
    """The scopes any one of which releases licences of type ``code``."""
    return (SCOPE_PREFIX + code, SCOPE_ALL)
