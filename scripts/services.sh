#!/usr/bin/env bash
# Make sure what the test suite needs on this machine is there, starting it if it is not:
#   postgres  PostgreSQL on 127.0.0.1:5432, database `test` (trust auth, as CI provides)
#   redis     Redis on 127.0.0.1:6379
#   chromium  Debian's /usr/bin/chromium for the end-to-end browser test
#
# Usage: scripts/services.sh [postgres|redis|chromium|all]...   (default: all)
# PostgreSQL and Redis are skipped when IDP_TEST_BACKENDS does not name postgres
# (e.g. IDP_TEST_BACKENDS=sqlite on a laptop without them). Exits non-zero, with the
# reason, when something cannot be made available.
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else return 1
    fi
}

wait_for() {  # wait_for <what> <seconds> <command...>
    local what=$1 seconds=$2
    shift 2
    for _ in $(seq "$seconds"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "$what did not come up within ${seconds}s"
}

wants_postgres() {
    [[ ",${IDP_TEST_BACKENDS:-sqlite,postgres}," == *",postgres,"* ]]
}

ensure_postgres() {
    wants_postgres || { log "postgres: not needed (IDP_TEST_BACKENDS=${IDP_TEST_BACKENDS})"; return; }
    command -v pg_isready >/dev/null || die "pg_isready not found: install PostgreSQL (Debian: apt-get install postgresql)"
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        local version
        version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
        [ -n "$version" ] || die "PostgreSQL is not running and no cluster was found under /etc/postgresql"
        log "postgres: starting cluster $version/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start \
            || die "could not start PostgreSQL $version/main"
        wait_for PostgreSQL 30 pg_isready -q -h 127.0.0.1 -p 5432
    fi
    if command -v psql >/dev/null; then
        psql -h 127.0.0.1 -p 5432 -U "${PGUSER:-root}" -d test -Atqc 'select 1' >/dev/null \
            || die "PostgreSQL is up but database 'test' (user ${PGUSER:-root}) is not reachable"
    fi
    log "postgres: ready on 127.0.0.1:5432"
}

redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
    wants_postgres || { log "redis: not needed (IDP_TEST_BACKENDS=${IDP_TEST_BACKENDS})"; return; }
    command -v redis-cli >/dev/null || die "redis-cli not found: install Redis (Debian: apt-get install redis-server)"
    if ! redis_up; then
        log "redis: starting redis-server on 127.0.0.1:6379"
        as_root mkdir -p /var/lib/redis /var/log/redis || die "cannot create Redis directories"
        as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log \
            || die "could not start redis-server"
        wait_for Redis 30 redis_up
    fi
    log "redis: ready on 127.0.0.1:6379"
}

ensure_chromium() {
    local chromium=${IDP_TEST_CHROMIUM:-/usr/bin/chromium}
    if [ ! -x "$chromium" ]; then
        [ "$chromium" = /usr/bin/chromium ] || die "IDP_TEST_CHROMIUM=$chromium is not executable"
        log "chromium: installing Debian's chromium package"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -q || die "apt-get update failed (need root or sudo)"
        as_root apt-get install -y -q --no-install-recommends chromium \
            || die "apt-get install chromium failed"
    fi
    log "chromium: $("$chromium" --version 2>/dev/null | head -n1)"
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(all)
    for target in "${targets[@]}"; do
        case $target in
            postgres) ensure_postgres ;;
            redis) ensure_redis ;;
            chromium) ensure_chromium ;;
            all) ensure_postgres; ensure_redis; ensure_chromium ;;
            *) die "unknown target '$target' (postgres, redis, chromium, all)" ;;
        esac
    done
}

main "$@"
