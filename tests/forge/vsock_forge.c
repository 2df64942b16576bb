// SPDX-License-Identifier: GPL-2.0
/*
 * vsock_forge: a test-only module that lets a test send forged packets on
 * one of its own connected virtio vsock sockets, straight to the
 * transport's send_pkt(), past the framing of the socket layer and of
 * vsock_seqpacket.ko. It plays the hostile peer of the hostile-peer cases
 * of tests/vsock_test; it is never part of what the project ships.
 *
 * Userspace writes one request to /sys/kernel/debug/vsock_forge/send:
 * struct vsock_forge_req followed by payload_len bytes of payload. The
 * packet's hdr.len is the payload's length, as every transport checks.
 * The write returns the number of bytes written, or a negative errno.
 */
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/virtio_vsock.h>
#include <net/af_vsock.h>
#include <net/sock.h>

struct vsock_forge_req {
	__s32 fd;
	__u16 op;
	__u16 type;	/* 0: the socket's own type */
	__u32 flags;
	__u32 payload_len;
} __packed;

#define VSOCK_FORGE_MAX_PAYLOAD	VIRTIO_VSOCK_MAX_PKT_BUF_SIZE

static struct dentry *vsock_forge_dir;

static int vsock_forge_send(struct socket *sock,
			    const struct vsock_forge_req *req,
			    const void *payload)
{
	struct sock *sk = sock->sk;
	struct vsock_sock *vsk = vsock_sk(sk);
	const struct virtio_transport *t;
	struct virtio_vsock_hdr *hdr;
	struct sk_buff *skb;
	int ret = 0;

	lock_sock(sk);
	/* Only connected sockets of a virtio transport (virtio, vhost,
	 * loopback) have a send_pkt() to forge packets for.
	 */
	if (sk->sk_state != TCP_ESTABLISHED || !vsk->transport ||
	    vsk->transport->seqpacket_enqueue !=
	    virtio_transport_seqpacket_enqueue) {
		ret = -ENOTCONN;
		goto out;
	}
	t = container_of(vsk->transport, struct virtio_transport, transport);

	skb = virtio_vsock_alloc_skb(VIRTIO_VSOCK_SKB_HEADROOM +
				     req->payload_len, GFP_KERNEL);
	if (!skb) {
		ret = -ENOMEM;
		goto out;
	}
	hdr = virtio_vsock_hdr(skb);
	hdr->type = cpu_to_le16(req->type ? req->type :
				(sk->sk_type == SOCK_SEQPACKET ?
				 VIRTIO_VSOCK_TYPE_SEQPACKET :
				 VIRTIO_VSOCK_TYPE_STREAM));
	hdr->op = cpu_to_le16(req->op);
	hdr->flags = cpu_to_le32(req->flags);
	hdr->src_cid = cpu_to_le64(t->transport.get_local_cid());
	hdr->src_port = cpu_to_le32(vsk->local_addr.svm_port);
	hdr->dst_cid = cpu_to_le64(vsk->remote_addr.svm_cid);
	hdr->dst_port = cpu_to_le32(vsk->remote_addr.svm_port);
	hdr->len = cpu_to_le32(req->payload_len);
	/* Large payloads get a nonlinear skb, as the transports build them */
	virtio_vsock_skb_put(skb, req->payload_len);
	if (req->payload_len &&
	    skb_store_bits(skb, 0, payload, req->payload_len)) {
		kfree_skb(skb);
		ret = -EFAULT;
		goto out;
	}
	virtio_transport_inc_tx_pkt(vsk->trans, skb);

	ret = t->send_pkt(skb);
	if (ret > 0)
		ret = 0;
out:
	release_sock(sk);
	return ret;
}

static ssize_t vsock_forge_write(struct file *file, const char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	struct vsock_forge_req req;
	struct socket *sock;
	void *payload;
	int err;

	if (count < sizeof(req) ||
	    copy_from_user(&req, ubuf, sizeof(req)))
		return -EINVAL;
	if (req.payload_len > VSOCK_FORGE_MAX_PAYLOAD ||
	    count != sizeof(req) + req.payload_len)
		return -EINVAL;

	payload = memdup_user(ubuf + sizeof(req), req.payload_len);
	if (IS_ERR(payload))
		return PTR_ERR(payload);

	sock = sockfd_lookup(req.fd, &err);
	if (!sock)
		goto out;
	err = -EPROTOTYPE;
	if (sock->sk->sk_family == AF_VSOCK)
		err = vsock_forge_send(sock, &req, payload);
	sockfd_put(sock);
out:
	kfree(payload);
	return err ? err : count;
}

static const struct file_operations vsock_forge_fops = {
	.owner = THIS_MODULE,
	.write = vsock_forge_write,
};

static int __init vsock_forge_init(void)
{
	vsock_forge_dir = debugfs_create_dir("vsock_forge", NULL);
	debugfs_create_file("send", 0200, vsock_forge_dir, NULL,
			    &vsock_forge_fops);
	return 0;
}

static void __exit vsock_forge_exit(void)
{
	debugfs_remove(vsock_forge_dir);
}

module_init(vsock_forge_init);
module_exit(vsock_forge_exit);
MODULE_DESCRIPTION("Test-only forging of virtio vsock packets (hostile-peer tests)");
MODULE_LICENSE("GPL");
