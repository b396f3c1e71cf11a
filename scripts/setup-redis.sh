#!/usr/bin/env bash
# Installs Debian's redis-server, which the Redis store tests
# (test/redis/*.node.ts) and `npm run bench:redis` start on a free loopback
# port with no persistence. They never use a system-wide Redis service.
#
# Idempotent: does nothing when a redis-server binary is on the PATH (or at
# /usr/bin/redis-server). REDIS_SERVER=/path/to/redis-server in the tests'
# environment picks another binary and skips this script's check.
set -euo pipefail

log () {
  echo "[setup-redis] $*" >&2
}

if [ -n "${REDIS_SERVER:-}" ] && [ -x "${REDIS_SERVER}" ]; then
  log "using $REDIS_SERVER ($("$REDIS_SERVER" --version))"
  exit 0
fi

if command -v redis-server > /dev/null 2>&1; then
  log "redis-server is installed ($(redis-server --version))"
  exit 0
fi

if [ -x /usr/bin/redis-server ]; then
  log "redis-server is installed at /usr/bin/redis-server"
  exit 0
fi

if ! command -v apt-get > /dev/null 2>&1; then
  log "redis-server is missing and there is no apt-get: install Redis >= 6.2 and put redis-server on the PATH"
  exit 1
fi

sudo=''
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo > /dev/null 2>&1; then
    sudo='sudo'
  else
    log "redis-server is missing; installing it needs root (apt-get install redis-server)"
    exit 1
  fi
fi

log "installing Debian's redis-server"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# the package's own service is not wanted: tests start their own servers.
# policy-rc.d keeps the postinst from starting it where invoke-rc.d is used
# (containers); elsewhere it is stopped and disabled right after
policy="/usr/sbin/policy-rc.d"
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" > /dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
$sudo apt-get install -y -qq --no-install-recommends redis-server > /dev/null
if [ "$created_policy" = 1 ]; then
  $sudo rm -f "$policy"
fi
if command -v systemctl > /dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now redis-server > /dev/null 2>&1 || true
fi

log "installed $(redis-server --version)"
