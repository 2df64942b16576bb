/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SOCK_SEQPACKET record markers for virtio vsock: the hooks through which a
 * framing provider (net/vmw_vsock/seqpacket/, in Rust) sends and judges the
 * records of connections whose both ends negotiated
 * VIRTIO_VSOCK_REQUEST_SEQ_MARKERS. virtio_transport_common.c calls them;
 * the wire format is in include/uapi/linux/virtio_vsock.h and
 * Documentation/networking/vsock_seqpacket.rst.
 */
#ifndef _LINUX_VIRTIO_VSOCK_SEQ_H
#define _LINUX_VIRTIO_VSOCK_SEQ_H

#include <linux/types.h>
#include <uapi/linux/virtio_vsock.h>

struct module;
struct msghdr;
struct vsock_sock;

/* What a virtio_vsock_seq_ops::recv() callback decided about a packet. */
enum virtio_vsock_seq_verdict {
	VIRTIO_VSOCK_SEQ_DROP,		/* a marker, consumed */
	VIRTIO_VSOCK_SEQ_QUEUE,		/* record data, to be queued */
	VIRTIO_VSOCK_SEQ_RECORD,	/* SEQ_END of a complete record */
	VIRTIO_VSOCK_SEQ_RECORD_EOR,	/* the same, sent with MSG_EOR */
};

/* SOCK_SEQPACKET framing with VIRTIO_VSOCK_OP_SEQ_BEGIN/SEQ_END. Every
 * callback runs under lock_sock() of @vsk (destroy() may also run once the
 * socket has no other user), whose vsk->trans->seq_priv belongs to the
 * provider from init() to destroy().
 */
struct virtio_vsock_seq_ops {
	struct module *owner;
	/* A SOCK_SEQPACKET connection is being made: attach framing state,
	 * or fail to leave it to VIRTIO_VSOCK_SEQ_EOM framing.
	 */
	int (*init)(struct vsock_sock *vsk);
	/* The socket is being destructed: free the framing state. */
	void (*destroy)(struct vsock_sock *vsk);
	/* Send a whole record of @len bytes with
	 * virtio_transport_send_seq_record(): the peer's credit covers it.
	 */
	ssize_t (*enqueue)(struct vsock_sock *vsk, struct msghdr *msg,
			   size_t len, bool eor);
	/* Judge a received packet of @len payload bytes: RW, SEQ_BEGIN or
	 * SEQ_END (@hdr is its header when the payload is exactly one, else
	 * NULL), SHUTDOWN or RST. Returns an enum virtio_vsock_seq_verdict,
	 * or a negative errno: for RW and the markers a protocol violation
	 * that resets the connection; for SHUTDOWN and RST that they cut an
	 * open record.
	 */
	int (*recv)(struct vsock_sock *vsk, u16 op, u32 flags,
		    const struct virtio_vsock_seq_hdr *hdr, u32 len,
		    u32 buf_alloc);
};

int virtio_vsock_seq_register(const struct virtio_vsock_seq_ops *ops);
void virtio_vsock_seq_unregister(const struct virtio_vsock_seq_ops *ops);
int virtio_transport_send_seq_record(struct vsock_sock *vsk,
				     struct msghdr *msg, size_t len,
				     const struct virtio_vsock_seq_hdr *begin,
				     const struct virtio_vsock_seq_hdr *end,
				     u32 end_flags);

#endif /* _LINUX_VIRTIO_VSOCK_SEQ_H */
