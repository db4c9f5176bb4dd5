"""The scope catalogue: each scope a data category (OIDC Core 5.4, PIPL articles 28-29).

OIDC Core 5.4: "Claims requested by the following scope values are returned from the
UserInfo Endpoint". PIPL article 29: "To handle sensitive personal information, the
individual's separate consent shall be obtained". This catalogue is the one place that
says, per scope, what the citizen is shown (in Chinese and English), which claims it
unlocks, whether it is sensitive personal information, and the lowest assurance level
at which it may be released.

Electronic licences (``licence``, ``licence:<type>``) are not in the catalogue yet: they
come with the licence store and data API (issue 4, later step).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..authn.result import Acr


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
        # Citizens have no address on record yet: the category exists (portals may ask
        # for it and the citizen sees it) but releases nothing until one is stored.
        Category(
            scope="address",
            name_zh="地址",
            name_en="Address",
            description_zh="您的住址",
            description_en="Your address",
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
