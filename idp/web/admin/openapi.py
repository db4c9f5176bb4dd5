"""The OpenAPI 3.1 document of the admin API, generated from the route declarations
(``api.OPERATIONS``) so it cannot miss a call; the schemas are written here by hand."""

from __future__ import annotations

from typing import Any

from flask import current_app

from ...authn.staff.roles import Role
from .api import OPERATIONS
from .problems import STATUS
from .problems import TITLES
from .problems import type_uri

_S = {"type": "string"}
_SN = {"type": ["string", "null"]}
_B = {"type": "boolean"}
_STRINGS = {"type": "array", "items": _S}
_TIME = {"type": "string", "format": "date-time"}
_TIMEN = {"type": ["string", "null"], "format": "date-time"}

_CLIENT_FIELDS: dict[str, Any] = {
    "name": _S,
    "department": _SN,
    "logo_uri": {"type": ["string", "null"], "format": "uri"},
    "redirect_uris": _STRINGS,
    "post_logout_redirect_uris": _STRINGS,
    "auth_method": {
        "enum": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    },
    "scope": _S,
    "first_party": _B,
    "jwks": {"type": ["object", "null"]},
    "id_token_alg": {"enum": ["ES256", "RS256", None]},
    "default_acr": _SN,
    "minimum_acr": _SN,
    "scope_policy": {
        "type": ["object", "null"],
        "description": "Per scope: required and purpose; ttl_days. null or {}: no policy.",
    },
    "access_token_format": {"enum": ["opaque", "jwt"]},
    "access_token_ttl": {"type": ["integer", "null"], "minimum": 60, "maximum": 3600},
    "refresh_token_ttl": {"type": ["integer", "null"], "minimum": 3600},
    "grant_types": {
        "type": "array",
        "items": {
            "enum": [
                "authorization_code",
                "client_credentials",
                "urn:openid:params:grant-type:ciba",
            ]
        },
    },
    "backchannel_logout_uri": {"type": ["string", "null"], "format": "uri"},
    "backchannel_logout_session_required": _B,
    "frontchannel_logout_uri": {
        "type": ["string", "null"],
        "format": "uri",
        "description": "Framed by the signed-out page (https; no fragment).",
    },
    "frontchannel_logout_session_required": {
        "type": "boolean",
        "description": "The frame's URI carries iss and sid.",
    },
    # CIBA Core 1.0 section 4: clients with the CIBA grant only; push is not supported.
    "backchannel_token_delivery_mode": {"enum": ["poll", "ping", None]},
    "backchannel_client_notification_endpoint": {
        "type": ["string", "null"],
        "format": "uri",
        "description": "https; ping mode only.",
    },
}

SCHEMAS: dict[str, Any] = {
    "OAuthError": {
        "type": "object",
        "description": "OAuth 2.0 error (RFC 6749 5.2 / RFC 6750 3.1).",
        "properties": {"error": _S, "error_description": _S},
        "required": ["error"],
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details (application/problem+json).",
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": _S,
            "status": {"type": "integer"},
            "detail": _S,
            "field": {"type": "string", "description": "The input field at fault."},
        },
        "required": ["type", "title", "status"],
    },
    "Me": {
        "type": "object",
        "properties": {
            "id": _S,
            "username": _S,
            "roles": _STRINGS,
            "department": _SN,
            "permissions": _STRINGS,
        },
    },
    "Client": {
        "type": "object",
        "properties": {
            "client_id": _S,
            "name": _S,
            "department": _SN,
            "logo_uri": _SN,
            "redirect_uris": _STRINGS,
            "post_logout_redirect_uris": _STRINGS,
            "token_endpoint_auth_method": _S,
            "scope": _S,
            "sector_identifier": _S,
            "id_token_signed_response_alg": _S,
            "first_party": _B,
            "default_acr": _SN,
            "minimum_acr": _SN,
            "access_token_format": _S,
            "access_token_ttl": {"type": ["integer", "null"]},
            "refresh_token_ttl": {"type": ["integer", "null"]},
            "jwks": {"type": ["object", "null"]},
            "scope_policy": {"type": ["object", "null"]},
            "disabled": _B,
            "created_at": _TIMEN,
        },
    },
    "ClientList": {
        "type": "object",
        "properties": {
            "clients": {"type": "array", "items": {"$ref": "#/components/schemas/Client"}}
        },
    },
    "ClientCreate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {**_CLIENT_FIELDS, "sector_identifier": _SN},
        "required": ["name", "redirect_uris"],
    },
    "ClientUpdate": {
        "type": "object",
        "additionalProperties": False,
        "properties": _CLIENT_FIELDS,
    },
    "ClientWithSecret": {
        "type": "object",
        "properties": {
            "client": {"$ref": "#/components/schemas/Client"},
            "client_secret": {
                "type": ["string", "null"],
                "description": "Shown this once (a new secret-based client); null otherwise.",
            },
        },
    },
    "Secret": {"type": "object", "properties": {"client_id": _S, "client_secret": _S}},
    "Lookup": {
        "type": "object",
        "properties": {"id_number": {"type": "string", "maxLength": 40}},
        "required": ["id_number"],
    },
    "CitizenSummary": {
        "type": "object",
        "properties": {
            "id": _S,
            "name": _S,
            "id_type": _S,
            "id_number_masked": _S,
            "proofing": _S,
            "locked": _B,
            "locked_at": _TIMEN,
            "created_at": _TIMEN,
        },
    },
    "Citizen": {
        "allOf": [
            {"$ref": "#/components/schemas/CitizenSummary"},
            {
                "type": "object",
                "properties": {
                    "credentials": {"type": "object"},
                    "devices": {"type": "array", "items": {"type": "object"}},
                    "blocked_authenticators": _STRINGS,
                    "sessions": {"type": "array", "items": {"type": "object"}},
                    "consents": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Consent"},
                    },
                },
            },
        ]
    },
    "EndSessions": {
        "type": "object",
        "properties": {"sid": {"type": "string", "description": "One session; absent: all."}},
    },
    "Ended": {"type": "object", "properties": {"ended": {"type": "integer"}}},
    "Unblock": {
        "type": "object",
        "properties": {"authenticator": {"type": "string", "examples": ["password:<citizen id>"]}},
        "required": ["authenticator"],
    },
    "Unblocked": {"type": "object", "properties": {"was_blocked": _B}},
    "Consent": {
        "type": "object",
        "properties": {
            "id": _S,
            "citizen_id": _S,
            "client_id": _S,
            "client_name": _S,
            "scopes": _STRINGS,
            "granted_at": _TIMEN,
            "expires_at": _TIMEN,
        },
    },
    "ConsentList": {
        "type": "object",
        "properties": {
            "consents": {"type": "array", "items": {"$ref": "#/components/schemas/Consent"}}
        },
    },
    "Revoke": {
        "type": "object",
        "properties": {"citizen_id": _S, "client_id": _S},
        "required": ["citizen_id", "client_id"],
    },
    "Revoked": {"type": "object", "properties": {"revoked": _B}},
    "Key": {
        "type": "object",
        "properties": {
            "kid": _S,
            "alg": _S,
            "active_from": _TIME,
            "retired_at": _TIMEN,
            "expires_at": _TIMEN,
            "state": {"enum": ["pending", "signing", "published", "expired"]},
        },
    },
    "KeyList": {
        "type": "object",
        "properties": {"keys": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}},
    },
    "Rotate": {
        "type": "object",
        "properties": {
            "algs": {"type": "array", "items": {"enum": ["ES256", "RS256"]}},
            "immediate": {"type": "boolean", "description": "No propagation delay (compromise)."},
        },
    },
    "Rotated": {"type": "object", "properties": {"kids": _STRINGS}},
    "Retire": {
        "type": "object",
        "properties": {
            "immediate": {"type": "boolean", "description": "Leave the JWKS now (compromise)."}
        },
    },
    "Retired": {
        "type": "object",
        "properties": {"kid": _S, "retired_at": _TIMEN, "expires_at": _TIMEN},
    },
    "Aaguid": {
        "type": "object",
        "description": "An authenticator model admitted to high (WebAuthn 3 section 6.5.1).",
        "properties": {
            "aaguid": {"type": "string", "pattern": "^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"},
            "label": _S,
            "source": {"enum": ["console", "configuration"]},
            "added_by": _SN,
            "added_at": _TIMEN,
            "removed_by": _SN,
            "removed_at": _TIMEN,
        },
    },
    "AaguidList": {
        "type": "object",
        "properties": {
            "models": {"type": "array", "items": {"$ref": "#/components/schemas/Aaguid"}},
            "removed": {"type": "array", "items": {"$ref": "#/components/schemas/Aaguid"}},
        },
    },
    "AaguidAdd": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "aaguid": {"type": "string", "description": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"},
            "label": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "required": ["aaguid", "label"],
    },
    "AaguidRemove": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "aaguid": _S,
            "open_to_any": {
                "type": "boolean",
                "description": "Needed to remove the last model: every model then reaches high.",
            },
        },
        "required": ["aaguid"],
    },
    "StaffMember": {
        "type": "object",
        "properties": {
            "id": _S,
            "username": _S,
            "display_name": _S,
            "department": _SN,
            "roles": {"type": "array", "items": {"enum": [str(r) for r in Role]}},
            "disabled": _B,
            "enrolment_pending": _B,
            "created_at": _TIMEN,
            "credentials": {"type": "array", "items": {"type": "object"}},
        },
    },
    "StaffList": {
        "type": "object",
        "properties": {
            "staff": {"type": "array", "items": {"$ref": "#/components/schemas/StaffMember"}}
        },
    },
    "StaffCreate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "username": _S,
            "display_name": _S,
            "department": _SN,
            "roles": {"type": "array", "items": {"enum": [str(r) for r in Role]}},
        },
        "required": ["username", "display_name", "roles"],
    },
    "StaffWithCode": {
        "type": "object",
        "properties": {
            "staff": {"$ref": "#/components/schemas/StaffMember"},
            "enrolment_code": {"type": "string", "description": "Shown this once."},
        },
    },
    "Roles": {
        "type": "object",
        "properties": {
            "roles": {"type": "array", "items": {"enum": [str(r) for r in Role]}},
            "department": _SN,
        },
        "required": ["roles"],
    },
    "EnrolmentCode": {"type": "object", "properties": {"staff_id": _S, "enrolment_code": _S}},
    "AuditSearch": {
        "type": "object",
        "description": "Every filter is optional; they combine with AND.",
        "properties": {
            "citizen_id": _S,
            "id_number": {
                "type": "string",
                "maxLength": 40,
                "description": "Found through the blind index; answered only masked.",
            },
            "client_id": _S,
            "actor_id": _S,
            "staff": {"type": "string", "description": "A staff member's username."},
            "event": {
                "description": "Event types; one ending in a dot is a prefix (login.).",
                "oneOf": [_S, _STRINGS],
            },
            "outcome": {"type": "string", "enum": ["success", "failure", "refused"]},
            "since": _TIME,
            "until": _TIME,
            "before_seq": {"type": "integer", "minimum": 1},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        },
        "additionalProperties": False,
    },
    "AuditRecord": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer"},
            "at": _TIME,
            "event": _S,
            "outcome": _S,
            "actor_type": _S,
            "actor_id": _SN,
            "citizen_id": _SN,
            "client_id": _SN,
            "ip": _SN,
            "channel": _SN,
            "details": {"type": "object"},
            "hash": _S,
        },
    },
    "AuditPage": {
        "type": "object",
        "properties": {
            "filters": {"type": "object", "description": "As applied; the ID number masked."},
            "records": {"type": "array", "items": {"$ref": "#/components/schemas/AuditRecord"}},
            "next_before_seq": {
                "type": ["integer", "null"],
                "description": "Pass as before_seq for the next page; null on the last.",
            },
        },
    },
    "AuditVerification": {
        "type": "object",
        "properties": {
            "ok": _B,
            "records": {"type": "integer"},
            "last_seq": {"type": "integer"},
            "anchored_seq": {
                "type": "integer",
                "description": "The highest seq covered by a valid signed checkpoint.",
            },
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {
                            "type": "string",
                            "enum": ["edited", "moved", "removed", "relinked", "checkpoint"],
                        },
                        "seq": {"type": ["integer", "null"]},
                        "message": _S,
                    },
                },
            },
            "checkpoints": {"type": "array", "items": {"type": "object"}},
        },
    },
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "Success",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{op.response}"}}
                },
            },
            "401": _problem_response("No valid token (RFC 6750 WWW-Authenticate challenge)"),
            "403": _problem_response(
                "The token owner's roles do not allow this"
                + (
                    ", or the token is older than the fresh-verification window"
                    if op.dangerous
                    else ""
                )
            ),
        }
        if op.body or op.params or op.query:
            responses["400"] = _problem_response(TITLES["invalid-input"])
        if op.params:
            responses["404"] = _problem_response(TITLES["not-found"])
        entry: dict[str, Any] = {
            "operationId": op.endpoint.split(".", 1)[1],
            "summary": op.summary,
            "description": (
                f"Permission: `{op.permission}`" if op.permission else "Any console role."
            )
            + (
                " Dangerous: needs a token created within the fresh-verification window."
                if op.dangerous
                else ""
            ),
            "responses": responses,
        }
        if op.params:
            entry["parameters"] = [
                {"name": name, "in": "path", "required": True, "description": text, "schema": _S}
                for name, text in op.params.items()
            ]
        if op.query:
            entry.setdefault("parameters", []).extend(
                {"name": name, "in": "query", "required": False, "description": text, "schema": _S}
                for name, text in op.query.items()
            )
        if op.body:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}
                },
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    paths.update(_licence_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Identity provider admin API",
            "version": "1",
            "description": (
                "Manage clients, citizens, consents, signing keys and staff. Authenticate "
                "with a personal admin-API token (created in the console at /admin/tokens). "
                "Errors are RFC 9457 problem details; problem types: "
                + ", ".join(f"{type_uri(k)} ({STATUS[k]})" for k in TITLES)
                + "."
            ),
        },
        "servers": [{"url": str(current_app.config["IDP_ISSUER"]).rstrip("/") + "/admin/api"}],
        "security": [{"adminToken": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Personal admin-API token (RFC 6750).",
                },
                "departmentClient": {
                    "type": "oauth2",
                    "description": (
                        "A department's own client token (client credentials grant, RFC 6749 "
                        "4.4) with the licences:load scope; errors are RFC 6750 / OAuth JSON."
                    ),
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": str(current_app.config["IDP_ISSUER"]).rstrip("/")
                            + "/token",
                            "scopes": {
                                "licences:load": "Load and change own department's licences"
                            },
                        }
                    },
                },
            },
            "schemas": SCHEMAS,
        },
    }


def _oauth_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}},
    }


def _licence_paths() -> dict[str, Any]:
    """The departments' licence loading calls (idp.web.licence_admin_api): under the same
    prefix, but authenticated by a client token, not a staff member's (README "Loading
    licences")."""
    security = [{"departmentClient": ["licences:load"]}]
    errors = {
        "400": _oauth_error("invalid_request: bad JSON or rejected rows (nothing written)"),
        "401": _oauth_error("invalid_token (RFC 6750)"),
        "403": _oauth_error("insufficient_scope, or the client has no department"),
    }
    body = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    ok = {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "/licences": {
            "post": {
                "operationId": "load_licences",
                "summary": "Load a batch of the department's licences (all or nothing)",
                "security": security,
                "requestBody": body,
                "responses": {"200": ok, **errors, "409": _oauth_error("a concurrent load")},
            }
        },
        "/licences/status": {
            "post": {
                "operationId": "set_licence_status",
                "summary": "Suspend, reinstate or revoke one of the department's licences",
                "security": security,
                "requestBody": body,
                "responses": {"200": ok, **errors, "404": _oauth_error("unknown licence")},
            }
        },
    }
