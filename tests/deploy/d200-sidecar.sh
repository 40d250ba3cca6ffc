#!/bin/bash
# deploy/kubernetes/sidecar-pod.yaml played with mount namespaces (play.inc): the app
# container sees an empty directory until the sidecar's startup probe passes, then the
# plaintext; ENOTCONN after kill -9 of the daemon, and the plaintext again once the
# restarted sidecar detached the dead mount; nothing after the preStop hook; no process or
# mount left behind, and a clean volume.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
need_progs
. "$ECFS_TESTS/../deploy/play.inc"
play_traps

play_setup "$K8S/sidecar-pod.yaml" envcryptfs-sidecar envcryptfs envcryptfs-sidecar app
play_recipe
