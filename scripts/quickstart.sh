#!/usr/bin/env bash
# The quickstart's first command: installs what is missing (npm packages, Debian's redis-server), builds, then runs
# a whole job on this machine with a private redis-server and writes outputs to ./out. Extra arguments go to
# vgg-local (see: bash scripts/quickstart.sh --help).
set -euo pipefail
cd "$(dirname "$0")/.."

export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"

# Node.js 22 and 24 LTS are supported (package.json "engines"). Older ones may still run, but unsupported: Node 20
# is past its end of life, and the AWS SDK warns that its releases from January 2027 on need Node 22.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 22 ]; then
  echo "quickstart: Node.js $(node --version 2>/dev/null || echo '(none)') is not supported; install Node.js 22 or 24 LTS (this run goes on, unsupported)" >&2
fi

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
