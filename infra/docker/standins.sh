#!/usr/bin/env bash
# Local stand-ins for the public images that infra/docker/Dockerfile and docker-compose.yml use, for
# machines that reach no image registry but do reach a Debian mirror (the test machine). Each is
# tagged with the public name, so the Dockerfile and the compose file run unchanged:
#
#   node     (Dockerfile's NODE_IMAGE)  Debian bookworm + this host's node binary, npm and corepack,
#                                       and this host's CA bundle (the npm registry may sit behind
#                                       a TLS-intercepting proxy the host trusts)
#   redis    (compose's redis image)    Debian's redis-server
#   prometheus (compose's image)        Debian's prometheus, plus wget for the healthcheck
#
# An image whose tag exists already is left alone (delete it with `docker rmi` to rebuild). Needs a
# running Docker engine, root (mmdebstrap, installed here with apt when missing), and the mirror
# apt uses (from /etc/apt/sources.list*, or DEBIAN_MIRROR). On a machine that reaches Docker Hub none
# of this is needed.
#
#   infra/docker/standins.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
export DOCKER_BUILDKIT=0 # the classic builder: nothing to pull for the build itself
BASE=rocketmq-ts-standin/debian:bookworm
LABEL=org.rocketmq-ts.standin=true

node_image="$(sed -n 's/^ARG NODE_IMAGE=//p' "$root/infra/docker/Dockerfile")"
redis_image="$(sed -n "s/^ *image: *['\"]\{0,1\}\(redis[^'\" ]*\).*/\1/p" "$root/docker-compose.yml")"
prometheus_image="$(sed -n "s/^ *image: *['\"]\{0,1\}\([^'\" ]*prometheus[^'\" ]*\).*/\1/p" "$root/docker-compose.yml")"
for v in node_image redis_image prometheus_image; do
  [ -n "${!v}" ] || { echo "standins: cannot find the $v name in the Dockerfile / docker-compose.yml" >&2; exit 1; }
done

say() { echo "standins: $*"; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m=''
  # one-line style: deb [opts] URL bookworm main
  m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { sub(/\[[^]]*\] */, ""); if ($3 == "bookworm") { print $2; exit } }')"
  # deb822 style: a stanza with URIs: and Suites: bookworm
  if [ -z "$m" ]; then
    m="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '/^$/ { u = ""; s = 0 } /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") s = 1 }
           u != "" && s { print u; exit }')"
  fi
  [ -n "$m" ] || { echo "standins: no bookworm mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2; exit 1; }
  echo "$m"
}

build_base() {
  if have "$BASE"; then return; fi
  if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap"
    apt-get install -y mmdebstrap >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y mmdebstrap >/dev/null; }
  fi
  local mirror
  mirror="$(debian_mirror)"
  say "building $BASE from $mirror"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/base.tar" "$mirror"
  docker import --change 'CMD ["bash"]' --change "LABEL $LABEL" "$work/base.tar" "$BASE" >/dev/null
  rm -f "$work/base.tar"
}

# build <tag> <dir>: docker build of <dir>/Dockerfile, tagged <tag>
build() {
  say "building $1"
  docker build -q --label "$LABEL" -t "$1" "$2" >/dev/null
}

build_node() {
  if have "$node_image"; then return; fi
  local node npm_root major dir="$work/node"
  node="$(readlink -f "$(command -v node)")"
  major="$("$node" -p 'process.versions.node.split(".")[0]')"
  case "$node_image" in
    node:"$major"-* | node:"$major") ;;
    *) echo "standins: this host's node is $("$node" -v), $node_image needs another major version" >&2; exit 1 ;;
  esac
  npm_root="$(npm root -g)"
  mkdir -p "$dir"
  cp "$node" "$dir/node"
  cp -a "$npm_root/npm" "$dir/npm"
  if [ -d "$npm_root/corepack" ]; then cp -a "$npm_root/corepack" "$dir/corepack"; else mkdir "$dir/corepack"; fi
  cp /etc/ssl/certs/ca-certificates.crt "$dir/ca-certificates.crt"
  # Laid out as the official image: node in /usr/local/bin, so `npm i -g` installs under /usr/local.
  cat >"$dir/Dockerfile" <<EOF
FROM $BASE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY corepack /usr/local/lib/node_modules/corepack
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && if [ -f /usr/local/lib/node_modules/corepack/dist/corepack.js ]; then ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; fi \\
 && node -v && npm -v
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
  build "$node_image" "$dir"
}

build_redis() {
  if have "$redis_image"; then return; fi
  local dir="$work/redis"
  mkdir -p "$dir"
  # The official image starts redis-server out of protected mode (clients are other containers).
  cat >"$dir/Dockerfile" <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \\
 && printf '#!/bin/sh\nexec /usr/bin/redis-server "\$@" --protected-mode no\n' >/usr/local/bin/redis-server \\
 && chmod +x /usr/local/bin/redis-server
EXPOSE 6379
CMD ["redis-server"]
EOF
  build "$redis_image" "$dir"
}

build_prometheus() {
  if have "$prometheus_image"; then return; fi
  local dir="$work/prometheus"
  mkdir -p "$dir"
  # As the official image: prometheus is the entrypoint, data under /prometheus.
  cat >"$dir/Dockerfile" <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends prometheus wget && rm -rf /var/lib/apt/lists/*
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
  build "$prometheus_image" "$dir"
}

build_base
build_node
build_redis
build_prometheus
say "ready: $node_image $redis_image $prometheus_image"
