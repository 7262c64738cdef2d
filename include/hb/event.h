/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ABI between the monitor's BPF programs (bpf/hbmon.bpf.c) and user space (bpf/monitor.c,
 * and hbctl ls through the pinned iterator): the per-socket SK_STORAGE value, the PERCPU_ARRAY
 * totals, the ring buffer's close events and the iterator's per-connection records.
 * Fixed-width types only, no pointers, padding written out (STYLE.md 1); monitor.c asserts
 * the sizes. Times are bpf_ktime_get_ns() (CLOCK_MONOTONIC), in ns.
 */
#ifndef HB_EVENT_H
#define HB_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Counters kept per socket and in total (the c[] arrays below). */
enum hb_mon_ctr {
	HB_MON_KA_SENT,		/* keepalive probes sent (TcpExtTCPKeepAlive counts these) */
	HB_MON_KA_RECV,		/* keepalive probes received */
	HB_MON_KA_ACK_SENT,	/* pure ACKs sent in answer to a received probe */
	HB_MON_KA_ACK_RECV,	/* pure ACKs received while a probe of ours was outstanding */
	HB_MON_KA_UNANSWERED,	/* probes with no segment back before the next probe or the close */
	HB_MON_ZWP_SENT,	/* zero-window probes sent (never counted as keepalive) */
	HB_MON_ZWP_RECV,	/* zero-window probes received */
	HB_MON_APP_SENT,	/* application heartbeats (MQTT, WebSocket, HTTP/2) sent */
	HB_MON_APP_RECV,	/* ... received */
	HB_MON_NCTR,
};

/* Application heartbeat protocols, kinds and directions (hb_mon_totals.app). */
enum hb_mon_proto { HB_MON_MQTT, HB_MON_WS, HB_MON_H2, HB_MON_NPROTO };
enum hb_mon_kind { HB_MON_PING, HB_MON_PONG, HB_MON_NKIND };
enum hb_mon_dir { HB_MON_SENT, HB_MON_RECV, HB_MON_NDIR };

/* How a connection ended (hb_mon_close.cause, hb_mon_totals.closed). */
enum hb_mon_cause {
	HB_MON_CLOSE_NORMAL,		/* FIN handshake (or closed with nothing to say) */
	HB_MON_CLOSE_RESET_RECV,	/* RST received (sk_err ECONNRESET/EPIPE/ECONNREFUSED) */
	HB_MON_CLOSE_RESET_SENT,	/* we aborted: RST sent (unread data, SO_LINGER 0, ...) */
	HB_MON_CLOSE_KEEPALIVE,		/* keepalive gave up: RST reason TCP_KEEPALIVE_TIMEOUT, or
					 * ETIMEDOUT with a probe outstanding */
	HB_MON_CLOSE_USER_TIMEOUT,	/* ETIMEDOUT with TCP_USER_TIMEOUT set */
	HB_MON_CLOSE_RETRANS,		/* ETIMEDOUT: retransmissions exhausted */
	HB_MON_NCAUSE,
};

/*
 * Idle-gap histogram: bucket i counts gaps of [2^i, 2^(i+1)) ms; the last bucket everything
 * from 2^(HB_MON_HIST_N-1) ms (~2.3 h) on. Gaps under 1 ms are not idle and not recorded.
 */
#define HB_MON_HIST_N	24

/* Per-socket state: the SK_STORAGE value (freed with the socket). */
struct hb_mon_sk {
	__u64 c[HB_MON_NCTR];
	__u64 app[HB_MON_NPROTO];	/* heartbeats per protocol, both directions */
	__u64 cookie;			/* SO_COOKIE */
	__u64 created_ns;		/* first segment seen */
	__u64 last_data_ns;		/* last data segment, either direction; 0: none yet */
	__u64 last_gap_ns;		/* most recent recorded idle gap */
	__u64 max_gap_ns;		/* longest recorded idle gap */
	__u32 netns;			/* network namespace inode */
	__u32 flags;			/* HB_MON_F_* (written by the tracepoints only) */
	__u8 ka_outstanding;		/* a probe of ours awaits an answer (egress sets, ingress
					 * clears: separate bytes, so no lost updates) */
	__u8 ack_due;			/* a probe was received; the next pure ACK answers it */
	__u8 ignored;			/* outside the monitored network namespace */
	__u8 pad[5];
};
#define HB_MON_SK_SIZE	152

#define HB_MON_F_RST_SENT	0x01	/* tcp_send_reset on this socket */
#define HB_MON_F_KA_RST		0x02	/* ... with reason SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT */
#define HB_MON_F_PENDING	0x04	/* went to CLOSE with no error: waiting for the RST that
					 * an abort sends right after, or the destroy */
#define HB_MON_F_CLOSED		0x08	/* close event sent */

/* Totals: the one PERCPU_ARRAY element; user space adds the CPUs up. */
struct hb_mon_totals {
	__u64 c[HB_MON_NCTR];
	__u64 pad0;
	__u64 app[HB_MON_NPROTO][HB_MON_NKIND][HB_MON_NDIR];
	__u64 closed[HB_MON_NCAUSE];
	__u64 hist[HB_MON_HIST_N];
	__u64 gap_sum_ms;		/* sum of the recorded gaps (the Prometheus histogram _sum) */
	__u64 pad1;
};
#define HB_MON_TOTALS_SIZE	(8 * (10 + 12 + 6 + 24 + 2))

/* A connection ended: one ring buffer record. */
struct hb_mon_close {
	__u64 cookie;
	__u64 ts_ns;			/* when */
	__u64 c[HB_MON_NCTR];		/* the connection's counters at death */
	__u64 app_total;
	__u64 last_gap_ns;		/* last recorded idle gap */
	__u64 max_gap_ns;
	__u64 idle_ns;			/* silence before death: now - last data (or first seen) */
	__u64 age_ns;			/* since first seen by the monitor */
	__u8 laddr[16];			/* network byte order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	__u16 lport, rport;		/* host byte order */
	__u8 family;			/* AF_INET, AF_INET6 */
	__u8 cause;			/* enum hb_mon_cause */
	__u8 oldstate;			/* TCP state before CLOSE */
	__u8 pad;
	__s32 err;			/* sk_err at the close (positive errno), 0 if none */
	__u32 netns;
};
#define HB_MON_CLOSE_SIZE	176

/* One open connection: a record of the iter/bpf_sk_storage_map program. */
struct hb_mon_conn {
	__u64 cookie;
	__u64 inode;			/* socket inode, 0 when orphaned */
	__u64 now_ns;			/* when the record was written */
	__u64 c[HB_MON_NCTR];
	__u64 app[HB_MON_NPROTO];
	__u64 created_ns;
	__u64 last_data_ns;
	__u64 last_gap_ns;
	__u64 max_gap_ns;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport, rport;
	__u8 family;
	__u8 state;			/* TCP state */
	__u8 keepalive;			/* SO_KEEPALIVE on */
	__u8 flags;			/* HB_MON_F_* & 0xff */
	__u32 netns;
	__u32 pad;
};
#define HB_MON_CONN_SIZE	200

/*
 * Per peer (`hbctl monitor --peers`): the client connections (active opens) that processes of
 * the monitored cgroup made to one address and port, counted from inet_sock_set_state:
 * CLOSE->SYN_SENT an attempt (what TcpActiveOpens counts), SYN_SENT->ESTABLISHED a handshake
 * (opened), SYN_SENT->CLOSE a failed attempt, an opened connection reaching CLOSE a close,
 * with its lifetime (ESTABLISHED to CLOSE) and bytes (acked sent + received). A BPF LRU_HASH
 * of HB_MON_PEERS_MAX entries: the least recently used peer goes first.
 */
#define HB_MON_PEERS_MAX	1024
#define HB_MON_LIFE_N		32	/* lifetime buckets: [2^i, 2^(i+1)) us; 0: under 2 us */

struct hb_mon_peer_key {
	__u8 addr[16];			/* network byte order; IPv4 in the first 4 bytes */
	__u16 port;			/* host byte order */
	__u8 family;			/* AF_INET, AF_INET6 */
	__u8 pad[5];
};
#define HB_MON_PEER_KEY_SIZE	24

struct hb_mon_peer {
	__u64 attempts;			/* SYN_SENT entered */
	__u64 opened;			/* handshakes: SYN_SENT -> ESTABLISHED */
	__u64 failed;			/* SYN_SENT -> CLOSE */
	__u64 closed;			/* opened connections that reached CLOSE */
	__u64 bytes;			/* of the closed ones: bytes_acked + bytes_received */
	__u64 life_sum_us;		/* of the closed ones */
	__u64 first_ns;			/* first attempt seen */
	__u64 last_ns;			/* latest attempt */
	__u64 life_hist[HB_MON_LIFE_N];
};
#define HB_MON_PEER_SIZE	(8 * (8 + 32))

/* One client connection in progress (peer_socks, keyed by the struct sock's address). */
struct hb_mon_peer_sock {
	__u64 start_ns;			/* SYN_SENT */
	__u64 estab_ns;			/* ESTABLISHED; 0: not yet */
};

#endif /* HB_EVENT_H */
