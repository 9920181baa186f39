# deploy/podman-env.sh: sourced by deploy/test-image and deploy/test-kube-play (bash).
#
#   podman_env DIR   podman and buildah with config and storage of their own under DIR
#                    (exports CONTAINERS_CONF, CONTAINERS_STORAGE_CONF): runc rather than crun,
#                    the ulimits this machine allows, cgroupfs, no systemd (PLATFORM.md)
#   free_ports N     N free loopback ports on one line (bound, read and released)
#   unmount_under DIR  lazily unmounts whatever containers/storage left mounted under DIR
#   remove_tree DIR  rm -rf DIR, retried while podman's helpers finish writing into it

podman_env() {
  local dir="$1"
  cat >"$dir/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  cat >"$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
CONF
  export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
}

free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))' "$1"
}

unmount_under() {
  local mnt
  while read -r mnt; do
    [[ -n $mnt ]] && umount -l "$mnt" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET 2>/dev/null | grep -F "$1/" | sort -r)
}

# remove_tree DIR: rm -rf, retried for up to 5 s: conmon and podman's cleanup process may still be
# writing into the container storage under DIR for a moment after `podman rm` / `kube down`.
remove_tree() {
  local _
  for _ in $(seq 50); do
    rm -rf -- "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  rm -rf -- "$1"
}
