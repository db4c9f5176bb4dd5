"""The scope catalogue: each scope a data category (OIDC Core 5.4, PIPL articles 28-29).

OIDC Core 5.4: "Claims requested by the following scope values are returned from the
UserInfo Endpoint". PIPL article 29: "To handle sensitive personal information, the
individual's separate consent shall be obtained". This catalogue is the one place that
says, per scope, what the citizen is shown (in Chinese and English), which claims it
unlocks, whether it is sensitive personal information, and the lowest assurance level
at which it may be released.

Electronic licences: ``licence`` (every type) and ``licence:<type>`` (one type of
``idp.licences.types``) release no UserInfo claim; the licences themselves go through the
data API (``GET /api/licences``), each signed by the provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..authn.result import Acr
from ..licences.types import LICENCE_TYPES
from ..licences.types import SCOPE_ALL


@dataclass(frozen=True)
class Category:
    scope: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    claims: tuple[str, ...]
    sensitive: bool = False  # PIPL art. 28: separate, explicit consent, never pre-ticked
    minimum_acr: Acr | None = None  # the session must stand at this level to release it

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def description(self, locale: str) -> str:
        return self.description_en if locale.startswith("en") else self.description_zh


CATALOGUE: dict[str, Category] = {
    c.scope: c
    for c in (
        Category(
            scope="openid",
            name_zh="专属标识",
            name_en="Identifier",
            description_zh="一个仅用于本门户的标识（不是您的身份证号码）",
            description_en=(
                "An identifier for you that is unique to this portal (not your ID number)"
            ),
            claims=("sub",),
        ),
        Category(
            scope="profile",
            name_zh="基本信息",
            name_en="Basic profile",
            description_zh="您的姓名、出生日期和性别",
            description_en="Your name, date of birth and sex",
            claims=("name", "birthdate", "gender"),
        ),
        Category(
            scope="phone",
            name_zh="手机号码",
            name_en="Phone number",
            description_zh="您的手机号码",
            description_en="Your mobile phone number",
            claims=("phone_number", "phone_number_verified"),
        ),
        # The registry's address of household registration (户籍地址), released as the
        # OIDC Core 5.1.1 Address Claim; nothing when the registry gave none. Personal,
        # not sensitive, information (PIPL art. 28 lists no addresses).
        Category(
            scope="address",
            name_zh="地址",
            name_en="Address",
            description_zh="您的户籍地址",
            description_en="Your address of household registration",
            claims=("address",),
        ),
        Category(
            scope="id_number",
            name_zh="身份证件号码",
            name_en="ID number",
            description_zh="您的身份证件号码及证件类型（敏感个人信息）",
            description_en="Your ID number and the type of your ID document (sensitive)",
            claims=("id_number", "id_type"),
            sensitive=True,
            minimum_acr=Acr.SUBSTANTIAL,
        ),
        # OIDC Core 11: asks for a refresh token; releases no claim.
        Category(
            scope="offline_access",
            name_zh="持续访问",
            name_en="Continued access",
            description_zh="在您退出登录后继续访问上述信息",
            description_en="Continued access to this information while you are signed out",
            claims=(),
        ),
    )
}


def _licence_categories() -> list[Category]:
    """``licence`` and one ``licence:<type>`` per type. ``licence`` covers the sensitive
    types too, so it is sensitive and needs the highest level any type needs."""
    types = list(LICENCE_TYPES.values())
    levels = [t.minimum_acr for t in types if t.minimum_acr]
    every = Category(
        scope=SCOPE_ALL,
        name_zh="全部电子证照",
        name_en="All electronic licences",
        description_zh="您的全部电子证照（"
        + "、".join(t.name_zh for t in types)
        + "），含敏感个人信息",
        description_en="All your electronic licences ("
        + ", ".join(t.name_en.lower() for t in types)
        + "), including sensitive information",
        claims=(),
        sensitive=any(t.sensitive for t in types),
        minimum_acr=max(levels, key=lambda a: a.rank) if levels else None,
    )
    one = [
        Category(
            scope=t.scope,
            name_zh=f"电子证照：{t.name_zh}",
            name_en=f"Electronic licence: {t.name_en}",
            description_zh=f"您的{t.name_zh}电子证照" + ("（敏感个人信息）" if t.sensitive else ""),
            description_en=f"Your electronic {t.name_en.lower()}"
            + (" (sensitive)" if t.sensitive else ""),
            claims=(),
            sensitive=t.sensitive,
            minimum_acr=t.minimum_acr,
        )
        for t in types
    ]
    return [every, *one]


CATALOGUE.update((c.scope, c) for c in _licence_categories())

SUPPORTED_SCOPES: tuple[str, ...] = tuple(CATALOGUE)


def category(scope: str) -> Category | None:
    return CATALOGUE.get(scope)


def is_sensitive(scope: str) -> bool:
    found = CATALOGUE.get(scope)
    return bool(found and found.sensitive)


def minimum_level(scopes: list[str] | tuple[str, ...]) -> Acr | None:
    """The highest ``minimum_acr`` among ``scopes`` (None when none needs a level)."""
    levels = [c.minimum_acr for s in scopes if (c := CATALOGUE.get(s)) and c.minimum_acr]
    return max(levels, key=lambda a: a.rank) if levels else None
