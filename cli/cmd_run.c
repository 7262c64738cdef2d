// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl run: validate the policy with libhb's parsers, put it into HB_* variables, append
 * the shim to LD_PRELOAD and exec the command (so its exit status is ours).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "hb/log.h"
#include "hb/policy.h"

#ifndef HB_LIBDIR
#define HB_LIBDIR "/usr/local/lib"
#endif

enum {
	OPT_IDLE = 0x3000,
	OPT_INTVL,
	OPT_CNT,
	OPT_UTO,
	OPT_MATCH,
	OPT_FORCE,
	OPT_LOG,
	OPT_OFF,
	OPT_KERNEL,
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl run [--idle DUR] [--intvl DUR] [--cnt N] [--user-timeout DUR]\n"
		"                 [--match LIST] [--force] [--off] [--log LEVEL] -- CMD [ARG...]\n"
		"\n"
		"Run CMD with libhbshim.so appended to LD_PRELOAD: its TCP sockets get keepalive\n"
		"(defaults 60s/10s/6 when none of --idle/--intvl/--cnt is given). The exit status\n"
		"is CMD's; 127 when CMD is not found, 126 when it cannot be executed.\n"
		"\n"
		"  --idle DUR              HB_KEEPIDLE (1s..32767s)\n"
		"  --intvl DUR             HB_KEEPINTVL (1s..32767s)\n"
		"  --cnt N                 HB_KEEPCNT (1..127)\n"
		"  --user-timeout DUR      HB_USER_TIMEOUT\n"
		"  --match LIST            HB_MATCH: 10.0.0.0/8,:5432,!192.168.1.5,[::1]:443\n"
		"  --force                 HB_FORCE=1: override the program's own settings\n"
		"  --off                   HB_KEEPALIVE=0: keepalive off (--user-timeout still applies)\n"
		"  --log LEVEL             HB_LOG: off, error, info, debug\n"
		"  --kernel                (not in this version: needs the cgroup policy)\n"
		"  --netns NAME|PATH|PID   run CMD in that network namespace\n"
		"\n"
		"The shim is $HB_SHIM if set, else %s/hb/libhbshim.so if installed, else\n"
		"libhbshim.so next to the hbctl binary.\n", HB_LIBDIR);
}

static int file_exists(const char *p)
{
	return access(p, R_OK) == 0;
}

/* The shim to preload: $HB_SHIM, the installed one, or the one next to this binary. */
static int find_shim(char *buf, size_t len)
{
	const char *env = getenv("HB_SHIM");
	char exe[PATH_MAX - 64];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return file_exists(buf) ? 0 : -ENOENT;
	}
	snprintf(buf, len, "%s/hb/libhbshim.so", HB_LIBDIR);
	if (file_exists(buf))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(buf, len, "%s/libhbshim.so", exe);
			if (file_exists(buf))
				return 0;
		}
	}
	return -ENOENT;
}

/* LD_PRELOAD with the shim appended (existing entries keep their order and precedence). */
static int append_preload(const char *shim)
{
	const char *cur = getenv("LD_PRELOAD");
	char *v, *tok, *dup, *save = NULL;
	bool have = false;
	int rc;

	if (cur && *cur) {
		dup = strdup(cur);
		if (!dup)
			return -ENOMEM;
		for (tok = strtok_r(dup, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save))
			if (strcmp(tok, shim) == 0)
				have = true;
		free(dup);
		if (have)
			return 0;
		if (asprintf(&v, "%s:%s", cur, shim) < 0)
			return -ENOMEM;
		rc = setenv("LD_PRELOAD", v, 1);
		free(v);
	} else {
		rc = setenv("LD_PRELOAD", shim, 1);
	}
	return rc ? -errno : 0;
}

int cmd_run(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "idle", required_argument, NULL, OPT_IDLE },
		{ "intvl", required_argument, NULL, OPT_INTVL },
		{ "cnt", required_argument, NULL, OPT_CNT },
		{ "user-timeout", required_argument, NULL, OPT_UTO },
		{ "match", required_argument, NULL, OPT_MATCH },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "off", no_argument, NULL, OPT_OFF },
		{ "kernel", no_argument, NULL, OPT_KERNEL },
		{ 0 }
	};
	/* env variable per option, set only after every value validated */
	const char *env[][2] = {
		{ "HB_KEEPIDLE", NULL }, { "HB_KEEPINTVL", NULL }, { "HB_KEEPCNT", NULL },
		{ "HB_USER_TIMEOUT", NULL }, { "HB_MATCH", NULL }, { "HB_FORCE", NULL },
		{ "HB_LOG", NULL }, { "HB_KEEPALIVE", NULL },
	};
	static struct hb_match match;	/* large: keep it off the stack */
	char err[HB_ERR_LEN], shim[PATH_MAX];
	enum hb_log_level lvl;
	unsigned int i;
	int c, rc, iv;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:jvn:h", longopts, NULL)) != -1) {
		rc = hb_cli_global_opt(o, c, optarg);
		if (rc < 0)
			return HB_EXIT_USAGE;
		if (rc > 0)
			continue;
		switch (c) {
		case OPT_IDLE:
			if (hb_parse_secs(optarg, HB_IDLE_MIN, HB_IDLE_MAX, &iv, err, sizeof(err)))
				return hb_usage_err(o, "--idle: %s", err);
			env[0][1] = optarg;
			break;
		case OPT_INTVL:
			if (hb_parse_secs(optarg, HB_INTVL_MIN, HB_INTVL_MAX, &iv, err, sizeof(err)))
				return hb_usage_err(o, "--intvl: %s", err);
			env[1][1] = optarg;
			break;
		case OPT_CNT:
			if (hb_parse_int(optarg, HB_CNT_MIN, HB_CNT_MAX, &iv, err, sizeof(err)))
				return hb_usage_err(o, "--cnt: %s", err);
			env[2][1] = optarg;
			break;
		case OPT_UTO:
			if (hb_parse_msecs(optarg, 0, HB_UTO_MAX, &iv, err, sizeof(err)))
				return hb_usage_err(o, "--user-timeout: %s", err);
			env[3][1] = optarg;
			break;
		case OPT_MATCH:
			if (hb_match_parse(optarg, &match, err, sizeof(err)))
				return hb_usage_err(o, "--match: %s", err);
			env[4][1] = optarg;
			break;
		case OPT_FORCE:
			env[5][1] = "1";
			break;
		case OPT_LOG:
			if (hb_log_parse_level(optarg, &lvl))
				return hb_usage_err(o, "--log: unknown level '%.40s' (off, error, info, "
						    "debug)", optarg);
			env[6][1] = optarg;
			break;
		case OPT_OFF:
			env[7][1] = "0";
			break;
		case OPT_KERNEL:
			return hb_usage_err(o, "--kernel needs the cgroup policy (not in this "
					    "version); without it, the LD_PRELOAD shim is used");
		case 'h':
		case HB_OPT_HELP:
			run_usage(stdout);
			return HB_EXIT_OK;
		default:
			return hb_cli_opt_error(o, c, argv);
		}
	}
	if (optind >= argc)
		return hb_usage_err(o, "no command given (hbctl run [OPTIONS] -- CMD [ARG...])");
	if (find_shim(shim, sizeof(shim))) {
		hb_err(o, "libhbshim.so not found (tried %s; set HB_SHIM=PATH)", shim);
		return HB_EXIT_RUNTIME;
	}
	rc = hb_cli_enter_netns(o);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (env[i][1] && setenv(env[i][0], env[i][1], 1)) {
			hb_err(o, "setenv %s: %s", env[i][0], strerror(errno));
			return HB_EXIT_RUNTIME;
		}
	rc = append_preload(shim);
	if (rc) {
		hb_err(o, "LD_PRELOAD: %s", strerror(-rc));
		return HB_EXIT_RUNTIME;
	}
	hb_verbose(o, "LD_PRELOAD=%s", getenv("LD_PRELOAD"));
	fflush(NULL);
	execvp(argv[optind], argv + optind);
	rc = errno;
	hb_err(o, "%s: %s", argv[optind], strerror(rc));
	/* like shells: 127 not found, 126 found but not executable */
	return rc == ENOENT || rc == ENOTDIR ? 127 : 126;
}
