"""Online self-registration, checked against the population-registry extract.

A citizen gives their ID number, real name, mobile number and a password. The account is
created only when the registry holds that number under that name *and* that mobile
number, and no account exists for the number yet. Proofing is then "registry" (name and
number checked, the Guangdong L3 trust level), never "in person".

Enumeration. An ID number is no secret (DESIGN.md "Assurance"), but whether a number
has an account, and which name or phone the registry holds for it, are personal data.
So every refusal that depends on the registry or on existing accounts gives one answer,
``RegistrationRefused``, in about the time of a success (one argon2 computation on every
path), and counts as a failure against the number's blind index and the client IP
(``ratelimit``), which bounds how many (number, name, phone) guesses anyone can test.
Only rules the citizen can see on their own input are named: the ID number's format, an
empty name, a malformed phone, a weak password. A citizen who already has an account and
tries again gets the generic answer, with a pointer to sign in or to the service hall.

Why the phone must match: a name and an ID number are often known to others (forms,
photocopies). Requiring the registry's mobile number too means a stranger needs a third
fact. Possession of that phone (an SMS code) is the stronger check; it arrives with the
SMS channel, and this is the place to add it.
"""

from __future__ import annotations

import logging

from ..errors import InvalidInput
from ..ids import parse_id_number
from ..models import Citizen
from . import password_policy
from .citizens import Proofing
from .citizens import create_citizen
from .citizens import find_by_id_number
from .citizens import normalise_name
from .citizens import normalise_phone
from .citizens import registry_match
from .login import subject_for
from .login import throttle
from .methods import password as passwords

log = logging.getLogger(__name__)

REGISTER = "register"


class RegistrationRefused(InvalidInput):
    """The one answer for "not in the registry", "other name or phone", "already registered"."""

    def __init__(self, *, detail: str) -> None:
        super().__init__(
            "We could not register an account with these details. Check that your ID "
            "number, name and mobile number are exactly as the population register holds "
            "them. If you already have an account, sign in instead; for help, visit a "
            "service hall.",
            detail=detail,
        )


def register(*, id_number: str, name: str, phone: str, password: str, ip: str) -> Citizen:
    """Create the citizen's account or raise.

    Raises ``InvalidIdNumber`` / ``InvalidInput`` (with ``field``) for a rule broken by the
    input itself, ``TooManyAttempts``, or ``RegistrationRefused``.
    """
    number = parse_id_number(number=id_number)
    clean_name = normalise_name(name=name)
    clean_phone = normalise_phone(phone=phone)
    password_policy.check(password=password, id_number=number.normalised, phone=clean_phone)

    limiter = throttle(REGISTER)
    attempt = limiter.begin(subject=subject_for(number), ip=ip)
    entry = registry_match(id_number=number.normalised, name=clean_name)
    registered_phone = _phone_or_none(entry.phone if entry is not None else None)
    problem = None
    if entry is None:
        problem = "no registry entry with this name"
    elif registered_phone != clean_phone:
        problem = "phone differs from the registry"
    elif find_by_id_number(number.normalised) is not None:
        problem = "already registered"
    if problem is None:
        try:
            citizen = create_citizen(
                id_number=number.normalised,
                name=entry.name if entry is not None else clean_name,
                phone=clean_phone,
                password=password,
                proofing=Proofing.REGISTRY,
                address=entry.address if entry is not None else None,
            )
        except InvalidInput:
            problem = "already registered (concurrent)"
        else:
            limiter.succeeded(attempt)
            log.info("self-registration: citizen %s created", citizen.id)
            return citizen
    # The success path hashes the password; spend the same on every refusal.
    passwords.dummy_verify(password=password)
    limiter.failed(attempt)
    raise RegistrationRefused(detail=f"self-registration refused: {problem}")


def _phone_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise_phone(phone=value)
    except InvalidInput:
        return None
