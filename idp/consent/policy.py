"""What a portal declares per scope: required or optional, and the purpose (PIPL art. 17).

PIPL article 17: before handling, the handler informs the individual of "the purpose of
handling" ... Article 14: consent "shall be given by the individual voluntarily and
explicitly in a fully informed situation". A portal's ``scope_policy`` is::

    {"profile": {"required": true, "purpose": "..."},
     "phone": {"required": false, "purpose": "..."},
     "ttl_days": 90}

Only scopes the portal may ask for at all (its registered ``scope``) may appear. Without
a policy every requested scope is required and has no stated purpose. ``openid`` is
always required (there is no sign-in without it).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from .categories import CATALOGUE
from .categories import Category

MAX_PURPOSE = 500
MAX_TTL_DAYS = 3650


@dataclass(frozen=True)
class ScopeItem:
    """One line of the consent page."""

    scope: str
    category: Category
    required: bool
    purpose: str

    @property
    def sensitive(self) -> bool:
        return self.category.sensitive


def validate(policy: Any, *, allowed: Iterable[str]) -> dict[str, Any]:
    """A clean copy of ``policy`` or ``InvalidInput`` (field ``scope_policy``)."""
    allowed_set = set(allowed)
    if not isinstance(policy, dict):
        raise InvalidInput("The scope policy must be a JSON object.", field="scope_policy")
    clean: dict[str, Any] = {}
    for key, value in policy.items():
        if key == "ttl_days":
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 1 <= value <= MAX_TTL_DAYS
            ):
                raise InvalidInput(
                    f"ttl_days must be a whole number from 1 to {MAX_TTL_DAYS}.",
                    field="scope_policy",
                )
            clean[key] = value
            continue
        if key not in CATALOGUE or key not in allowed_set:
            raise InvalidInput(
                f"The scope policy names {key!r}, which this client may not ask for.",
                field="scope_policy",
            )
        if not isinstance(value, dict) or set(value) - {"required", "purpose"}:
            raise InvalidInput(
                "Each scope maps to an object with 'required' and 'purpose'.",
                field="scope_policy",
            )
        required = value.get("required", True)
        purpose = value.get("purpose", "")
        if not isinstance(required, bool):
            raise InvalidInput("'required' must be true or false.", field="scope_policy")
        if not isinstance(purpose, str) or len(purpose) > MAX_PURPOSE:
            raise InvalidInput(
                f"'purpose' must be text of at most {MAX_PURPOSE} characters.",
                field="scope_policy",
            )
        if key == "openid" and not required:
            raise InvalidInput("openid is always required.", field="scope_policy")
        clean[key] = {"required": required, "purpose": purpose.strip()}
    return clean


def items(policy: Mapping[str, Any] | None, scopes: Iterable[str]) -> list[ScopeItem]:
    """The consent page's lines for the requested ``scopes``, in catalogue order."""
    policy = policy or {}
    wanted = set(scopes)
    lines: list[ScopeItem] = []
    for scope, category in CATALOGUE.items():
        if scope not in wanted:
            continue
        entry = policy.get(scope) if isinstance(policy.get(scope), dict) else None
        required = True if entry is None or scope == "openid" else bool(entry["required"])
        purpose = str(entry.get("purpose") or "") if entry else ""
        lines.append(ScopeItem(scope=scope, category=category, required=required, purpose=purpose))
    return lines


def ttl_days(policy: Mapping[str, Any] | None, default: int) -> int:
    value = (policy or {}).get("ttl_days")
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


@dataclass(frozen=True)
class Choice:
    granted: tuple[str, ...]
    refused_required: tuple[str, ...]  # non-empty: the answer is access_denied


def choose(
    lines: list[ScopeItem], *, ticked: Iterable[str], agreed_sensitive: Iterable[str]
) -> Choice:
    """The citizen's answer on an approved consent page.

    Required, non-sensitive scopes are granted by approving. Optional ones only if
    ticked. Sensitive ones (PIPL art. 29, separate consent) only with their own
    agreement box, required or not; a required scope without it is refused.
    """
    ticked_set, agreed = set(ticked), set(agreed_sensitive)
    granted: list[str] = []
    refused: list[str] = []
    for line in lines:
        if line.sensitive:
            ok = line.scope in agreed
        elif line.required:
            ok = True
        else:
            ok = line.scope in ticked_set
        if ok:
            granted.append(line.scope)
        elif line.required:
            refused.append(line.scope)
    return Choice(granted=tuple(granted), refused_required=tuple(refused))
