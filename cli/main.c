// SPDX-License-Identifier: BSD-2-Clause
/* hbctl: global options and the command table (STYLE.md 6: exact strcmp, never prefixes). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "hb/bpf_loader.h"

#ifndef HB_VERSION
#define HB_VERSION "0.0.0"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, struct hb_cli_opts *o);
	const char *help;
} cmds[] = {
	{ "ls", cmd_ls, "list TCP sockets with their keepalive state" },
	{ "set", cmd_set, "change the keepalive settings of live sockets" },
	{ "run", cmd_run, "run a program with keepalive turned on (LD_PRELOAD shim)" },
	{ "policy", cmd_policy, "keepalive policy of a cgroup, enforced by the kernel (BPF)" },
	{ "probe-nat", cmd_probe_nat, "measure how long the path keeps an idle TCP flow" },
	{ "paths", cmd_paths, "the table of path timeouts that --idle auto reads" },
	{ "monitor", cmd_monitor, "count keepalive probes, heartbeats and idle gaps (BPF)" },
	{ "doctor", cmd_doctor, "check what hbctl needs on this host, and advise" },
};

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f,
		"Usage: hbctl [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
		"\n"
		"Inspect and fix TCP keepalive on Linux.\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-6s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f,
		"\n"
		"Global options (also accepted after the command):\n"
		"  -j, --json              JSON output\n"
		"  -v, --verbose           say which back end is used and why (stderr)\n"
		"  -n, --netns NAME|PATH|PID  work in that network namespace\n"
		"  --backend bpf|diag|auto socket back end (default: auto, or $HB_BACKEND)\n"
		"  -h, --help              this help; hbctl COMMAND --help for a command's\n"
		"  -V, --version           print the version\n"
		"\n"
		"Exit status: 0 ok, 1 runtime error, 2 usage error, 3 nothing matched.\n"
		"See hbctl(8).\n");
}

/* A command's result as the process's exit status: HB_EXIT_DONE (it printed --help) is 0. */
static int exit_code(int rc)
{
	return rc == HB_EXIT_DONE ? HB_EXIT_OK : rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct hb_cli_opts o = { 0 };
	unsigned int i;
	int c;

	hb_bpf_set_print();	/* libbpf's messages go through libhb's log hook (-v) */
	while ((c = hb_cli_getopt(argc, argv, "+:jvhVn:", longopts, &o)) != -1) {
		switch (c) {
		case HB_OPT_HELP:
			usage(stdout);
			return HB_EXIT_OK;
		case 'V':
			printf("hbctl %s\n", HB_VERSION);
			return HB_EXIT_OK;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return HB_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 < argc) {
			char *hargv[] = { argv[optind + 1], (char *)"--help", NULL };

			for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (strcmp(argv[optind + 1], cmds[i].name) == 0) {
					o.cmd = cmds[i].name;
					optind = 0;
					return exit_code(cmds[i].fn(2, hargv, &o));
				}
		}
		usage(stdout);
		return HB_EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			o.cmd = cmds[i].name;
			argc -= optind;
			argv += optind;
			optind = 0;	/* glibc: full re-initialisation for the command's parse */
			return exit_code(cmds[i].fn(argc, argv, &o));
		}
	}
	return hb_usage_err(&o, "unknown command '%.40s' (see hbctl --help)",
			    argv[optind]);
}
