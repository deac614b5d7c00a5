#!/usr/bin/env bash
# The quickstart's first command: installs what is missing (npm packages, Debian's redis-server), builds, then runs
# a whole job on this machine with a private redis-server and writes outputs to ./out. Extra arguments go to
# vgg-local (see: bash scripts/quickstart.sh --help).
set -euo pipefail
cd "$(dirname "$0")/.."

export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
# The lockfile pins an AWS SDK that supports Node 20; its notice about future SDK versions is noise here.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="${AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED:-true}"

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ] && [ -z "${REDIS_URL:-}" ]; then
  echo "quickstart: installing redis-server from Debian packages" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "quickstart: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "quickstart: building" >&2
npx tsc -b

exec node apps/local/dist/main.js "$@"
