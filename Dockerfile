# syntax=docker/dockerfile:1
# The identity provider for production: `idp serve` (gunicorn gthread, chosen by
# measurement: README "Performance"), worker processes sharing state through PostgreSQL
# (DATABASE_URL) and Redis (REDIS_URL). It refuses to start without them, without
# IDP_MASTER_KEY, or with an http IDP_ISSUER (IDP_ENV=production is set below).
#
#   docker build -t idp .
#   docker run --rm --env-file idp.env idp idp db upgrade        # release step: migrations
#   docker run -d -p 8000:8000 --env-file idp.env idp            # serve
#
# idp.env: DATABASE_URL=postgresql://..., REDIS_URL=redis://..., IDP_MASTER_KEY=<base64 of
# 32+ random bytes>, IDP_ISSUER=https://id.example.gov.cn; optional WEB_CONCURRENCY (2),
# IDP_THREADS (4), PORT (8000), IDP_TRUSTED_PROXIES (1 behind one TLS proxy: client
# address and scheme from its X-Forwarded-* headers), IDP_SERVER=granian (granian's
# WSGI mode instead, 8 threads per worker by default).

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IDP_ENV=production \
    PORT=8000 \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 idp \
    && useradd --system --uid 10001 --gid idp --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin idp

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml changes. The stub
# packages let pip resolve and install the dependencies before the code is copied.
# README.m[d]: the glob keeps the build working before the README exists.
COPY pyproject.toml README.m[d] ./
RUN mkdir -p idp adapters demo \
    && touch idp/__init__.py adapters/__init__.py demo/__init__.py \
    && pip install . \
    && pip uninstall --yes idp \
    && rm -rf idp adapters demo build ./*.egg-info

# The code. An editable install keeps templates/, static/, translations/ and migrations/
# where idp/__init__.py looks for them: beside the package, at the repository root.
COPY . .
RUN pip install --no-deps --no-compile -e . \
    && python -m compileall -q idp adapters demo \
    && mkdir -p /app/instance \
    && chown idp:idp /app/instance

USER 10001:10001

EXPOSE 8000

# /healthz checks the database and Redis; slim images have no curl. urlopen raises on
# a 503, so an unhealthy answer exits non-zero just like a refused connection.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# `idp serve` reads PORT, WEB_CONCURRENCY, IDP_THREADS and IDP_SERVER; it refuses several
# workers without REDIS_URL and a schema behind this release (run `idp db upgrade` first).
# SIGTERM (docker stop) lets the workers finish the requests in flight.
CMD ["idp", "serve", "--host", "0.0.0.0"]
