#!/bin/bash
# The play of d200 (deploy/kubernetes/sidecar-pod.yaml) inside a user namespace with root
# mapped to root (unshare --user --map-root-user --mount), the shape of a pod with
# hostUsers: false: FUSE mounts, their propagation, the probes, the dead-mount detach and the
# preStop unmount must all work there. Skipped (saying why) where the kernel does not allow
# FUSE in a user namespace.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
need_progs
PLAY_USERNS=1
. "$ECFS_TESTS/../deploy/play.inc"
play_traps

# Can a FUSE file system be mounted in a user namespace here?
make_vol "$T/trial" "$T/trial.key" aes-256-gcm 4096
mkdir -p "$T/trial-mnt"
# (The daemon goes to the background once mounted; unmounting in the same namespace ends it.)
if ! timeout -k 5 60 unshare --user --map-root-user --mount --propagation private bash -c \
  '"$0" "$1" "$2" -o "key_file=$3" && fusermount3 -u "$2"' \
  "$ECFS" "$T/trial" "$T/trial-mnt" "$T/trial.key" </dev/null >"$T/trial.out" 2>&1; then
  skip "the kernel does not let a user namespace mount FUSE: $(tail -n 1 "$T/trial.out")"
fi

play_setup "$K8S/sidecar-pod.yaml" envcryptfs-sidecar envcryptfs envcryptfs-sidecar app
play_recipe
