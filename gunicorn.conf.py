"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'idp:create_app(serving=True)'``.

``idp serve`` (and the Dockerfile) runs gunicorn with these same settings by default
(``IDP_SERVER=granian`` runs granian instead: README "Performance", bench/RESULTS.md
section 3b); this file runs gunicorn directly. Environment:

- ``PORT`` (default 8000): listen on 0.0.0.0:PORT.
- ``WEB_CONCURRENCY`` (default 2): worker processes. Above 1 needs ``REDIS_URL``: the
  embedded in-process store serves one process, and ``on_starting`` refuses in the master,
  with one line, before any worker forks.
- ``IDP_THREADS`` (default 4): threads per worker (gthread).
- ``IDP_WORKER_CLASS`` (default ``gthread``): the worker class.

The worker model (among gunicorn's) was chosen by measurement (issue 7, ``bench/run.py``; see
``bench/RESULTS.md``): gthread, because the benchmark's clients (like portals and
resource servers) keep connections alive and gthread serves keep-alive connections from
its poller, while a ``sync`` worker serves one connection at a time and closes it after
each request; and because a sign-in waits for argon2id (in its own bounded pool) on a
thread that holds no GIL, so the other threads keep answering token requests. Threads:
1, 2, 4 and 8 per worker were each run against the peer (one round each, on a machine
shared with other work: flows per CPU-second 0.19 to 0.31 of the peer's, introspection
0.14 to 0.38, with no order between 2, 4 and 8 that held from one run to the next); 1
lets one sign-in stall a worker; 4 stays the default until a quiet machine says more.
meinheld (unmaintained since 2020) and bjoern (single-threaded: a sign-in would block
every request) were not tried.

With Redis the app is preloaded in the master and forked (shared copy-on-write,
``gc.freeze`` before each fork, database engines disposed in each child); see
``idp.commands.serve.worker_model``.
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
