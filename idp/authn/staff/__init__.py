"""Staff accounts and their authentication (issue 6): roles, one-time enrolment,
WebAuthn with user verification, the console session, personal admin-API tokens.

Kept apart from citizens' authentication so the service-hall counter (issue 5) can use
the same accounts with the ``counter_staff`` role. Service modules: no request is read
here; the web layer passes plain values.
"""

from .roles import DANGEROUS
from .roles import Permission
from .roles import Role
from .roles import console_access
from .roles import granted

__all__ = ["DANGEROUS", "Permission", "Role", "console_access", "granted"]
