// SPDX-License-Identifier: BSD-2-Clause
/*
 * What hbctl's BPF loaders share (bpf_loader.h). Loaders never print: they return 0 or
 * -errno with a message; libbpf's own messages reach libhb's log hook through the print
 * hook hbctl's main sets once (libbpf-bootstrap's shape).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>

#include "hb/bpf_loader.h"
#include "hb/log.h"

/*
 * libbpf's warnings (why a load failed, which CO-RE relocation missed) and infos are -v
 * lines; its debug chatter (hundreds of lines per load) only with HB_DEBUG=2 too. Without a
 * log hook, HB_DEBUG=1 prints the warnings on stderr. stdout is never touched: it may be a
 * JSON document.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum hb_log_level lvl = level == LIBBPF_WARN ? HB_LOG_INFO : HB_LOG_DEBUG;
	const char *env = getenv("HB_DEBUG");
	int dbg = env && *env ? atoi(env) : 0;
	char msg[512];
	size_t len;

	if (level == LIBBPF_DEBUG && dbg < 2)
		return 0;
	if (hb_log_enabled(lvl)) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		len = strlen(msg);
		if (len && msg[len - 1] == '\n')
			msg[len - 1] = '\0';
		/* most of libbpf's lines name it already */
		hb_log(lvl, "%s%s", strncmp(msg, "libbpf: ", 8) ? "libbpf: " : "", msg);
		return 0;
	}
	return dbg >= 1 ? vfprintf(stderr, fmt, ap) : 0;
}

void hb_bpf_set_print(void)
{
	libbpf_set_print(libbpf_print);
}

bool hb_bpf_have_caps(unsigned int need)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t eff;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return true;
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return true;
	if (!(eff & (1ULL << CAP_BPF)))
		return false;
	if ((need & HB_BPF_NEED_PERFMON) && !(eff & (1ULL << CAP_PERFMON)))
		return false;
	if ((need & HB_BPF_NEED_NET_ADMIN) && !(eff & (1ULL << CAP_NET_ADMIN)))
		return false;
	return true;
}

int hb_bpf_fs(const char *path, bool mount_it)
{
	struct statfs st;

	if (statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC)
		return 0;
	if (!mount_it)
		return errno == ENOENT ? -ENOENT : -ENOTSUP;
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", path, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

/* Whether the comma-separated list names word. */
static bool listed(const char *list, const char *word, size_t wlen)
{
	const char *p = list, *e;

	if (!wlen)
		return false;
	while (*p) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		if ((size_t)(e - p) == wlen && strncmp(p, word, wlen) == 0)
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

bool hb_bpf_denied_name(const char *name, const char *sec)
{
	const char *deny = getenv("HB_BPF_DENY"), *slash;

	if (!deny || !*deny)
		return false;
	if (name && listed(deny, name, strlen(name)))
		return true;
	if (!sec)
		return false;
	if (listed(deny, sec, strlen(sec)))
		return true;
	slash = strchr(sec, '/');
	if (slash && listed(deny, sec, (size_t)(slash - sec)))
		return true;
	return (strncmp(sec, "iter/bpf_map", 12) == 0 || strcmp(sec, "iter/bpf_sk_storage_map") == 0) &&
	       listed(deny, "map_iter", 8);
}

bool hb_bpf_denied(const struct bpf_program *prog)
{
	return hb_bpf_denied_name(bpf_program__name(prog), bpf_program__section_name(prog));
}

int hb_bpf_deny_check(struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		if (bpf_program__autoload(p) && hb_bpf_denied(p))
			return hb_bpf_errf(-EPERM, err, errlen, "HB_BPF_DENY refused %s (%s)",
					   bpf_program__section_name(p), bpf_program__name(p));
	}
	return 0;
}

int hb_bpf_load_err(int rc, const char *prog, const char *what, unsigned int need, char *err,
		    size_t errlen)
{
	if (rc == -EPERM && hb_bpf_denied_name(prog, what))
		return hb_bpf_errf(rc, err, errlen, "HB_BPF_DENY refused %s", what);
	if (rc == -EPERM || rc == -EACCES) {
		if (!hb_bpf_have_caps(need))
			return hb_bpf_errf(rc, err, errlen, "loading %s: %s (needs root, or CAP_BPF%s%s)",
					   what, strerror(-rc),
					   need & HB_BPF_NEED_PERFMON ? " + CAP_PERFMON" : "",
					   need & HB_BPF_NEED_NET_ADMIN ? " + CAP_NET_ADMIN" : "");
		return hb_bpf_errf(rc, err, errlen, "the kernel refused %s (a security policy or "
				   "kernel configuration)", what);
	}
	return hb_bpf_errf(rc, err, errlen, "loading %s: %s (HB_DEBUG=1 shows libbpf's log)", what,
			   strerror(-rc));
}
