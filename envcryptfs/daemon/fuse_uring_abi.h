/* fuse_uring_abi.h - the kernel's FUSE-over-io_uring interface (FUSE protocol 7.42, Linux
 * 6.14 and later), which Debian 12's kernel headers predate. Layouts and values are the
 * kernel's ABI; the names carry an ECFS_ prefix so that newer headers cannot clash.
 *
 * The rules this daemon relies on (fs/fuse/dev_uring.c):
 * - The INIT exchange stays on /dev/fuse. The kernel offers FUSE_OVER_IO_URING (bit 41 of
 *   the flags, so bit 9 of flags2) only while the fuse module's enable_uring parameter is Y;
 *   the daemon accepts by setting it in its INIT reply (with FUSE_INIT_EXT).
 * - There is one queue per possible CPU (qid 0 .. N-1). A request goes to the queue of the
 *   CPU its caller runs on, and the kernel switches from /dev/fuse to the ring only once
 *   every queue holds at least one registered entry.
 * - An entry is registered with an IORING_OP_URING_CMD on the /dev/fuse descriptor in a
 *   ring set up with IORING_SETUP_SQE128 (the command below lives in the SQE's extra bytes):
 *   cmd_op REGISTER, addr an array of two iovecs (the header, then a payload buffer of at
 *   least the connection's largest request), len 2. Its completion (res 0) means a request
 *   is in the entry; the reply goes back with cmd_op COMMIT_AND_FETCH naming the request's
 *   commit_id, whose completion in turn brings the next request.
 * - A request arrives as: its fuse_in_header in in_out, the opcode's own fixed-size argument
 *   in op_in (of in.len - sizeof(fuse_in_header) - payload_sz bytes, possibly none), the rest
 *   in the payload. A reply is the fuse_out_header in in_out and everything after it in the
 *   payload, payload_sz saying how much.
 * - FORGET, INTERRUPT and notifications stay on /dev/fuse. Entries end with -ENOTCONN when
 *   the connection ends or the ring's owner goes away.
 */
#ifndef ECFS_FUSE_URING_ABI_H
#define ECFS_FUSE_URING_ABI_H

#include <stdint.h>

/* In fuse_init_in.flags2 / fuse_init_out.flags2 (bit 41 of the 64-bit flags). */
#define ECFS_FUSE_OVER_IO_URING_FLAGS2 (1u << 9)
#define ECFS_FUSE_INIT_EXT	       (1u << 30)

#define ECFS_FUSE_URING_IN_OUT_HEADER_SZ 128
#define ECFS_FUSE_URING_OP_IN_OUT_SZ	 128

struct ecfs_fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique ID, to name in the commit */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct ecfs_fuse_uring_req_header {
	char in_out[ECFS_FUSE_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header / fuse_out_header */
	char op_in[ECFS_FUSE_URING_OP_IN_OUT_SZ];      /* the opcode's fixed argument */
	struct ecfs_fuse_uring_ent_in_out ring_ent_in_out;
};

enum ecfs_fuse_uring_cmd {
	ECFS_FUSE_IO_URING_CMD_INVALID = 0,
	ECFS_FUSE_IO_URING_CMD_REGISTER = 1,
	ECFS_FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/* In the SQE's command area (sqe->cmd, 80 bytes with IORING_SETUP_SQE128). */
struct ecfs_fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct ecfs_fuse_uring_req_header) == 288, "FUSE ring header size");
_Static_assert(sizeof(struct ecfs_fuse_uring_cmd_req) == 24, "FUSE ring command size");

#endif /* ECFS_FUSE_URING_ABI_H */
