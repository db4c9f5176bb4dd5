"""Licence records for the tests: valid rows of every type, for the demo citizen."""

from __future__ import annotations

from typing import Any

from conftest import CITIZEN_ID_NUMBER

# Another valid GB 11643 number (check digit correct), for a second holder.
OTHER_ID_NUMBER = "110105198001010016"

FIELDS = {
    "driving_licence": {"name": "张三", "vehicle_classes": "C1"},
    "business_licence": {
        "entity_name": "张三小吃店",
        "unified_social_credit_code": "92110105MA01ABCD1X",
    },
    "household_register": {
        "household_head": "张三",
        "relationship_to_head": "户主",
        "address": "北京市朝阳区某街道1号",
    },
    "marriage_certificate": {"name": "张三", "spouse_name": "李四"},
}
DEPARTMENTS = {
    "driving_licence": "Transport Bureau",
    "business_licence": "Market Regulation Bureau",
    "household_register": "Public Security Bureau",
    "marriage_certificate": "Civil Affairs Bureau",
}


def row(type_: str = "driving_licence", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": type_,
        "number": f"{type_[:3].upper()}-0001",
        "id_number": CITIZEN_ID_NUMBER,
        "department": DEPARTMENTS[type_],
        "issued_on": "2020-05-01",
        "expires_on": "2030-05-01" if type_ in ("driving_licence", "business_licence") else None,
        "fields": dict(FIELDS[type_]),
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def load_all(**overrides: Any) -> None:
    """One licence of every type for the demo citizen."""
    from idp.licences.loading import load

    records = [(i, row(t, **overrides)) for i, t in enumerate(FIELDS, start=1)]
    report = load(records)
    assert report.written and not report.errors, report
