// SPDX-License-Identifier: BSD-2-Clause
/*
 * bpf/loader.c: HB_BPF_DENY names a program, a kind, a section or map_iter, exactly (no
 * prefixes, no substrings), and the message for a refused load names the switch when it
 * did it. Nothing here loads BPF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hb/bpf_loader.h"

static void deny_names(void **state)
{
	(void)state;
	unsetenv("HB_BPF_DENY");
	assert_false(hb_bpf_denied_name("iter_conns", "iter/bpf_sk_storage_map"));
	setenv("HB_BPF_DENY", "", 1);
	assert_false(hb_bpf_denied_name("iter_conns", "iter/bpf_sk_storage_map"));

	setenv("HB_BPF_DENY", "iter_conns", 1);
	assert_true(hb_bpf_denied_name("iter_conns", "iter/bpf_sk_storage_map"));
	/* exact names: not the iter/tcp twin whose name starts the same */
	assert_false(hb_bpf_denied_name("iter_conns_tcp", "iter/tcp"));

	setenv("HB_BPF_DENY", "tp_btf,iter/task_file", 1);
	assert_true(hb_bpf_denied_name("tp_set_state2", "tp_btf/inet_sock_set_state"));
	assert_true(hb_bpf_denied_name("iter_task_file", "iter/task_file"));
	assert_false(hb_bpf_denied_name("iter_tcp", "iter/tcp"));
	assert_false(hb_bpf_denied_name("cgskb_egress", "cgroup_skb/egress"));

	setenv("HB_BPF_DENY", "map_iter", 1);
	assert_true(hb_bpf_denied_name("iter_conns", "iter/bpf_sk_storage_map"));
	assert_true(hb_bpf_denied_name("x", "iter/bpf_map_elem"));
	assert_false(hb_bpf_denied_name("iter_conns_tcp", "iter/tcp"));

	setenv("HB_BPF_DENY", "iter", 1);
	assert_true(hb_bpf_denied_name("iter_conns_tcp", "iter/tcp"));
	assert_true(hb_bpf_denied_name("iter_conns", "iter/bpf_sk_storage_map"));
	assert_false(hb_bpf_denied_name("tp_destroy_sock", "tp_btf/tcp_destroy_sock"));

	/* a list with empty items and no match: nothing is refused */
	setenv("HB_BPF_DENY", ",,tp,iter_,", 1);
	assert_false(hb_bpf_denied_name("iter_tcp", "iter/tcp"));
	assert_false(hb_bpf_denied_name("tp_set_state", "tp_btf/inet_sock_set_state"));
	unsetenv("HB_BPF_DENY");
}

static void load_err_messages(void **state)
{
	char err[256];

	(void)state;
	setenv("HB_BPF_DENY", "tp_btf", 1);
	assert_int_equal(hb_bpf_load_err(-EPERM, "tp_set_state", "tp_btf", HB_BPF_NEED_PERFMON,
					 err, sizeof(err)), -EPERM);
	assert_string_equal(err, "HB_BPF_DENY refused tp_btf");
	unsetenv("HB_BPF_DENY");
	assert_int_equal(hb_bpf_load_err(-EINVAL, "iter_conns", "iter/bpf_sk_storage_map",
					 HB_BPF_NEED_PERFMON, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "loading iter/bpf_sk_storage_map: Invalid argument"));
	/* EPERM: the capabilities for a caller without them, the kernel's refusal otherwise */
	hb_bpf_load_err(-EPERM, "iter_conns", "iter/bpf_sk_storage_map", HB_BPF_NEED_PERFMON,
			err, sizeof(err));
	if (hb_bpf_have_caps(HB_BPF_NEED_PERFMON))
		assert_string_equal(err, "the kernel refused iter/bpf_sk_storage_map (a security "
				    "policy or kernel configuration)");
	else
		assert_non_null(strstr(err, "needs root, or CAP_BPF + CAP_PERFMON"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deny_names),
		cmocka_unit_test(load_err_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
