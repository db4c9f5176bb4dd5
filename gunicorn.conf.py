"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py 'idp:create_app()'``.

The Dockerfile runs exactly that. Environment:

- ``PORT`` (default 8000): listen on 0.0.0.0:PORT.
- ``WEB_CONCURRENCY`` (default 2): worker processes. Above 1 needs ``REDIS_URL``: the
  embedded in-process store serves one process, and ``on_starting`` refuses in the master,
  with one line, before any worker forks.
- ``IDP_THREADS`` (default 4): threads per worker (gthread).
- ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1): proxies whose X-Forwarded-* are trusted.

Migrations are not applied here: run ``idp db upgrade`` as a release step. ``on_starting``
refuses to start on a schema behind this release.
"""

import os

from idp.commands.serve import GUNICORN_DEFAULTS
from idp.commands.serve import gunicorn_on_starting
from idp.commands.serve import worker_model

bind = f"0.0.0.0:{int(os.environ.get('PORT', '8000'))}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
_model = worker_model()  # IDP_WORKER_CLASS, IDP_THREADS; preload with Redis
threads = _model["threads"]
worker_class = _model["worker_class"]
timeout = GUNICORN_DEFAULTS["timeout"]
graceful_timeout = GUNICORN_DEFAULTS["graceful_timeout"]
keepalive = GUNICORN_DEFAULTS["keepalive"]
accesslog = GUNICORN_DEFAULTS["accesslog"]
errorlog = GUNICORN_DEFAULTS["errorlog"]
access_log_format = GUNICORN_DEFAULTS["access_log_format"]
preload_app = _model["preload_app"]
pre_fork = _model["pre_fork"]
post_fork = _model["post_fork"]
control_socket_disable = GUNICORN_DEFAULTS["control_socket_disable"]  # ignored before 27
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Temporary worker heartbeat files in RAM, not on a container's overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

on_starting = gunicorn_on_starting
