"""Extension objects, created bare and bound in ``create_app`` with ``init_app``.

Flask-Migrate (Alembic, Mako, Pygments: about 12 MiB per process) is not among them: it
is bound by ``idp.init_migrations`` only in apps that may migrate (the CLI, tests), never
in a server's workers (``create_app(serving=True)``)."""

from __future__ import annotations

from flask_babel import Babel
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
babel = Babel()
csrf = CSRFProtect()
