#!/usr/bin/env bash
# Builds local stand-ins for the official images from this machine's own nginx and node
# binaries, for machines that reach no container registry (CI here). Needs a Docker engine,
# the nginx and node binaries, and the built project (npm run build).
#
#   containers/offline/build-images.sh          build, then print the environment to use
#   eval "$(containers/offline/build-images.sh --env)"   build quietly and export it
#
# Images (tag from KEEPALIVE_LAB_OFFLINE_TAG, default "offline"):
#   keepalive-lab/nginx      the machine's nginx and the libraries ldd names, nothing else
#   keepalive-lab/haproxy    the machine's haproxy the same way, when it has one
#   keepalive-lab/node       the machine's node, the upstream program and the built project
#   keepalive-lab/toxiproxy  the node image running the project's Toxiproxy-compatible server,
#                            with the real image's interface (-host/-port flags, API on 8474)
#   keepalive-lab/ryuk       the node image running a stand-in for Testcontainers' Ryuk reaper
#   keepalive-lab/node:N-<tag>  for each N in KEEPALIVE_LAB_OFFLINE_NODE_VERSIONS (e.g. "22 24"):
#                            that Node release from the npm registry (the same cached binaries
#                            as the local runtime's --upstream-node), for KEEPALIVE_LAB_NODE_IMAGE_N
# No image has a shell: the containers runtime uses log and HTTP wait strategies only.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tag="${KEEPALIVE_LAB_OFFLINE_TAG:-offline}"
env_only=false
[ "${1:-}" = "--env" ] && env_only=true

say() { $env_only || echo "$@"; }
fail() { echo "build-images: $*" >&2; exit 1; }

command -v docker >/dev/null || fail "no docker client: install docker.io (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers: start one (dockerd --iptables=false --storage-driver=vfs &)"
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$nginx_bin" ] || fail "no nginx binary: run scripts/setup.sh (it installs nginx)"
node_bin="$(readlink -f "$(command -v node)")"
[ -f "$root/dist/toxiproxy/api-server.js" ] || fail "the project is not built: run npm run build"

work="$(mktemp -d -t keepalive-lab-images-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# A binary and every library ldd names, mode 0755 (the dynamic loader needs its execute bit).
copy_binary() { # rootfs binary [target]
  local rootfs="$1" binary="$2" target="${3:-$2}"
  install -D -m 0755 "$binary" "$rootfs$target"
  for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
    install -D -m 0755 "$lib" "$rootfs$lib"
  done
}

base_rootfs() { # rootfs
  local rootfs="$1"
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
nogroup:x:65534:
EOF
  echo 'passwd: files
group: files
hosts: files dns' >"$rootfs/etc/nsswitch.conf"
}

import_image() { # rootfs name change...
  local rootfs="$1" name="$2"; shift 2
  local changes=()
  for change in "$@"; do changes+=(-c "$change"); done
  tar -C "$rootfs" -c . | docker import "${changes[@]}" - "$name" >/dev/null
  say "built $name"
}

# nginx: its config comes from the harness; the compiled-in paths must exist.
nginx_root="$work/nginx"
base_rootfs "$nginx_root"
copy_binary "$nginx_root" "$nginx_bin" /usr/sbin/nginx
install -D -m 0644 /etc/nginx/mime.types "$nginx_root/etc/nginx/mime.types"
mkdir -p "$nginx_root/var/lib/nginx" "$nginx_root/var/log/nginx" "$nginx_root/var/lock" "$nginx_root/run"
import_image "$nginx_root" "keepalive-lab/nginx:$tag" \
  'ENV PATH=/usr/sbin:/usr/bin' 'CMD ["nginx", "-g", "daemon off;"]'

# haproxy, when this machine has one: its config comes from the harness (no user, no chroot).
haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
haproxy_line=""
if [ -x "$haproxy_bin" ]; then
  haproxy_root="$work/haproxy"
  base_rootfs "$haproxy_root"
  copy_binary "$haproxy_root" "$haproxy_bin" /usr/sbin/haproxy
  import_image "$haproxy_root" "keepalive-lab/haproxy:$tag" 'ENV PATH=/usr/sbin:/usr/bin' 'CMD ["haproxy", "-v"]'
  haproxy_line="
export KEEPALIVE_LAB_HAPROXY_IMAGE=keepalive-lab/haproxy:$tag"
else
  say "no haproxy here: keepalive-lab/haproxy not built (--proxy haproxy on containers needs one)"
fi

# node, with the project's runnable parts under /keepalive-lab (the same layout as the repo,
# so relative imports between containers/ and dist/ hold).
node_root="$work/node"
base_rootfs "$node_root"
copy_binary "$node_root" "$node_bin" /usr/local/bin/node
mkdir -p "$node_root/keepalive-lab/containers"
echo '{ "type": "module" }' >"$node_root/keepalive-lab/package.json"
cp -r "$root/dist" "$node_root/keepalive-lab/dist"
cp -r "$root/containers/upstream" "$root/containers/offline" "$node_root/keepalive-lab/containers/"
import_image "$node_root" "keepalive-lab/node:$tag" 'ENV PATH=/usr/local/bin:/usr/bin' 'WORKDIR /keepalive-lab' 'CMD ["node"]'
import_image "$node_root" "keepalive-lab/toxiproxy:$tag" 'ENV PATH=/usr/local/bin:/usr/bin' \
  'ENTRYPOINT ["node", "/keepalive-lab/containers/offline/toxiproxy-entry.mjs"]' 'CMD ["-host=0.0.0.0"]' 'EXPOSE 8474'
import_image "$node_root" "keepalive-lab/ryuk:$tag" 'ENV PATH=/usr/local/bin:/usr/bin' \
  'ENTRYPOINT ["node", "/keepalive-lab/containers/offline/ryuk-standin.mjs"]' 'EXPOSE 8080'

# Upstream images for other Node versions: the binaries come through the project's own cache
# (src/runtime/node-binaries.ts), so local and containers runs measure the same releases.
node_version_lines=""
offline_node_versions="${KEEPALIVE_LAB_OFFLINE_NODE_VERSIONS:-}"
for version in ${offline_node_versions//,/ }; do
  versioned_bin="$(cd "$root" && node --input-type=module -e "
    const { ensureNodeBinary } = await import('./dist/runtime/node-binaries.js');
    console.log((await ensureNodeBinary(process.argv[1])).path);" "$version")" || fail "could not get Node $version (see above)"
  versioned_root="$work/node-$version"
  base_rootfs "$versioned_root"
  copy_binary "$versioned_root" "$versioned_bin" /usr/local/bin/node
  import_image "$versioned_root" "keepalive-lab/node:$version-$tag" 'ENV PATH=/usr/local/bin:/usr/bin' 'CMD ["node"]'
  node_version_lines="$node_version_lines
export KEEPALIVE_LAB_NODE_IMAGE_${version//./_}=keepalive-lab/node:$version-$tag"
done

env_lines="export KEEPALIVE_LAB_NGINX_IMAGE=keepalive-lab/nginx:$tag
export KEEPALIVE_LAB_NODE_IMAGE=keepalive-lab/node:$tag
export KEEPALIVE_LAB_TOXIPROXY_IMAGE=keepalive-lab/toxiproxy:$tag
export RYUK_CONTAINER_IMAGE=keepalive-lab/ryuk:$tag
export TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT=2s$haproxy_line$node_version_lines"
# Testcontainers looks for a gateway by pulling alpine when it runs inside a container itself.
[ -f /.dockerenv ] && env_lines="$env_lines
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"

if $env_only; then
  echo "$env_lines"
else
  echo
  echo "Use these images with:"
  echo "$env_lines"
fi
