#!/bin/bash
# deploy/kubernetes/daemonset.yaml played with mount namespaces (play.inc): the consumer pod
# cannot start before the DaemonSet made its hostPath directory (type Directory), then sees
# an empty directory until the node daemon's startup probe passes, the plaintext after it,
# ENOTCONN after kill -9 of the daemon and the plaintext again once the restarted container
# detached the dead mount (the consumer is not restarted); nothing after the preStop hook;
# no process or mount left behind, and a clean volume.
. "$ECFS_TESTS/lib.sh"
sanitizer_logs
need_progs
. "$ECFS_TESTS/../deploy/play.inc"
play_traps

play_setup "$K8S/daemonset.yaml" envcryptfs-node data envcryptfs-consumer app
note "the consumer cannot start before the DaemonSet made its directory"
! ctr_prepare "$FILE" envcryptfs-consumer app 2>"$T/stderr" || fail "the consumer's hostPath existed before the DaemonSet ran"
stderr_has "hostPath type check failed"
play_recipe
