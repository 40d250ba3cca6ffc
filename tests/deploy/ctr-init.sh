#!/bin/bash
# ctr-init.sh NODE MOUNTS -- ARGV...: what a container runtime does before it starts a
# container's process, run in the container's new mount namespace (a copy of the node's,
# made with `unshare -m --propagation unchanged`). Each line of MOUNTS (manifest.py mounts)
# binds a volume's node directory recursively, as runtimes do, at the container's
# mountPath (under its scratch root) with the manifest's propagation: Bidirectional stays a
# peer of the node's shared mount, HostToContainer becomes its slave, None private; readOnly
# mounts are made read-only. The rest of the node's tree then becomes a slave, so that
# nothing else the container mounts reaches the node. ARGV runs with the tools under test
# first on PATH.
set -euo pipefail
node=$1 mounts=$2
shift 3
while IFS=$'\t' read -r src dst prop mode _; do
  mount --rbind "$src" "$dst"
  case $prop in
    Bidirectional) ;;
    HostToContainer) mount --make-rslave "$dst" ;;
    *) mount --make-rprivate "$dst" ;;
  esac
  [ "$mode" = rw ] || mount -o remount,bind,ro "$dst"
done <"$mounts"
mount --make-rslave "$node"
exec env PATH="$ECFS_BIN:$PATH" "$@"
