# SPDX-License-Identifier: BSD-2-Clause
# hbkeep: one non-recursive Makefile. `make help` lists the targets.

O		?= build
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib
MANDIR		?= $(PREFIX)/share/man
DESTDIR		?=
CC		?= cc
CLANG		?= clang
BPFTOOL		?= bpftool
PKG_CONFIG	?= pkg-config
SAN		?=
VERSION		:= $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS		?= -O2 -g
ALL_CFLAGS	:= -std=gnu11 -Wall -Wextra -Werror=implicit -MMD -MP -fPIC -D_GNU_SOURCE \
		   -Iinclude -DHB_VERSION='"$(VERSION)"' $(CFLAGS)
ALL_LDFLAGS	:= $(LDFLAGS)
ifneq ($(SAN),)
ALL_CFLAGS	+= -fsanitize=$(SAN) -fno-omit-frame-pointer
ALL_LDFLAGS	+= -fsanitize=$(SAN)
endif

CMOCKA_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS	:= $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: fuzz-merge all help check test test-bins check-unit check-integ deps bench demo fuzz tsan install uninstall clean

HBCTL		:= $(if $(wildcard cli/main.c),$(O)/hbctl)
all: $(O)/libhbshim.so $(HBCTL)

help:
	@echo 'make              build $(O)/libhbshim.so'
	@echo 'make check        install test deps, build, run unit + integration tests (as root)'
	@echo 'make test         unit tests only'
	@echo 'make check-integ  integration tests only'
	@echo 'make test-bins    build what the suites run; then tests/run.sh integ -k NAME'
	@echo 'make bench        benchmarks (shim vs. plain libc, interleaved)'
	@echo 'make demo         the NAT-timeout demonstration in network namespaces'
	@echo 'make fuzz         build libFuzzer targets; FUZZ_TIME=600 make fuzz runs each'
	@echo 'make fuzz-merge   fold what fuzzing found into tests/fuzz/corpus/TARGET (-merge=1)'
	@echo 'make tsan         32-thread stress of the shim under ThreadSanitizer'
	@echo 'make install      PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)'
	@echo 'make deb          Debian package $(O)/hbkeep_$(VERSION)_ARCH.deb (dpkg-buildpackage)'
	@echo 'variables: O=build V=1 SAN=address,undefined CC CFLAGS LDFLAGS'

# ---- lib/: libhb.a, the policy core -------------------------------------------------------
LIB_SRCS	:= $(wildcard lib/*.c)
LIB_OBJS	:= $(LIB_SRCS:%.c=$(O)/obj/%.o)
LIBHB		:= $(O)/lib/libhb.a

$(O)/obj/%.o: %.c | $(O)/obj/lib $(O)/obj/shim $(O)/obj/tests/unit $(O)/obj/tests/unit/mocks $(O)/obj/tests/helpers $(O)/obj/tests/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS_$(notdir $(basename $<))) -c $< -o $@

$(LIBHB): $(LIB_OBJS) | $(O)/lib
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# ---- shim/: libhbshim.so ---------------------------------------------------------------------
# shim/apply.c is the pure seam (hb_shim_apply through a function-pointer table) that the
# unit tests link; everything else in shim/ is the interposition layer.
SHIM_SRCS	:= $(wildcard shim/*.c)
SHIM_OBJS	:= $(SHIM_SRCS:%.c=$(O)/obj/%.o)
SHIM_CORE_OBJS	:= $(filter $(O)/obj/shim/apply.o,$(SHIM_OBJS))
EXTRA_CFLAGS_init	= -fvisibility=hidden
$(SHIM_OBJS): ALL_CFLAGS += -fvisibility=hidden
$(LIB_OBJS): ALL_CFLAGS += -fvisibility=hidden

$(O)/libhbshim.so: $(SHIM_OBJS) $(LIBHB) shim/shim.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,--version-script=shim/shim.map -Wl,-z,defs -Wl,-z,now \
		-o $@ $(SHIM_OBJS) $(LIBHB) $(ALL_LDFLAGS) -ldl -lpthread

# ---- bpf/ and cli/: hbctl with its BPF programs embedded as skeletons ------------------------
ARCH		?= $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VMLINUX_H	?= bpf/vmlinux/$(ARCH)/vmlinux.h
BPF_SRCS	:= $(wildcard bpf/*.bpf.c)
BPF_SKELS	:= $(BPF_SRCS:bpf/%.bpf.c=$(O)/gen/%.skel.h)
BPF_CFLAGS	:= -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
		   -I$(O)/gen -Iinclude -Ibpf $(BPF_EXTRA_CFLAGS)
LIBMNL_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags libmnl 2>/dev/null)
LIBMNL_LIBS	:= $(shell $(PKG_CONFIG) --libs libmnl 2>/dev/null || echo -lmnl)
LIBBPF_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS	:= $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
# the --prometheus endpoint's HTTP server (cli/prom_http.c)
MHD_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS	:= $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
CLI_SRCS	:= $(wildcard cli/*.c bpf/*.c)
CLI_SRCS	:= $(filter-out %.bpf.c,$(CLI_SRCS))
CLI_OBJS	:= $(CLI_SRCS:%.c=$(O)/obj/%.o)
# Everything but main.o: the unit tests of cli/ link these (tests/unit/test_cli_*.c).
CLI_CORE_OBJS	:= $(filter-out $(O)/obj/cli/main.o,$(CLI_OBJS))
# The shim path `hbctl run` compiles in follows LIBDIR: $(HB_PATHS_H) is rewritten only when
# its content changes, so `make install PREFIX=/usr` after a plain `make` rebuilds cmd_run.o
# and relinks hbctl, and an unchanged LIBDIR rebuilds nothing.
HB_PATHS_H	:= $(O)/gen/hb_paths.h

$(O)/gen/vmlinux.h: $(VMLINUX_H) | $(O)/gen
	$(Q)cp $< $@
$(O)/bpf/%.tmp.bpf.o: bpf/%.bpf.c $(O)/gen/vmlinux.h $(wildcard bpf/*.h include/hb/*.h) | $(O)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(O)/bpf/%.bpf.o: $(O)/bpf/%.tmp.bpf.o
	$(Q)$(BPFTOOL) gen object $@ $<
$(O)/gen/%.skel.h: $(O)/bpf/%.bpf.o | $(O)/gen
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(CLI_OBJS): ALL_CFLAGS += $(LIBMNL_CFLAGS) $(LIBBPF_CFLAGS) $(MHD_CFLAGS) -I$(O)/gen
$(O)/obj/cli/cmd_run.o $(O)/obj/cli/cmd_doctor.o: $(HB_PATHS_H)
.PHONY: FORCE
$(HB_PATHS_H): FORCE | $(O)/gen
	$(Q)printf '/* generated by make from LIBDIR: do not edit */\n#define HB_LIBDIR "%s"\n' \
		'$(LIBDIR)' >$@.tmp && if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(CLI_OBJS): | $(BPF_SKELS) $(O)/obj/cli $(O)/obj/bpf
$(O)/hbctl: $(CLI_OBJS) $(LIBHB)
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $(CLI_OBJS) $(LIBHB) $(ALL_LDFLAGS) $(LIBBPF_LIBS) $(LIBMNL_LIBS) $(MHD_LIBS) -lpthread

# ---- tests ---------------------------------------------------------------------------------
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/unit/%)
MOCK_OBJS	:= $(patsubst %.c,$(O)/obj/%.o,$(wildcard tests/unit/mocks/*.c))
# --wrap'ed libc symbols for the unit tests (mocks in tests/unit/mocks/, STYLE.md 7)
WRAPPED		:=
LDFLAGS_WRAP	:= $(foreach f,$(WRAPPED),-Wl,--wrap=$(f))

$(O)/obj/tests/unit/%.o: ALL_CFLAGS += $(CMOCKA_CFLAGS) -fno-lto
# An explicit (not pattern) rule: a recipe-less pattern rule would add no prerequisite.
$(filter $(O)/tests/unit/test_shim%,$(UNIT_BINS)): $(SHIM_CORE_OBJS)
$(filter $(O)/tests/unit/test_cli%,$(UNIT_BINS)): $(CLI_CORE_OBJS)
$(O)/tests/unit/test_cli%: ALL_LDFLAGS += $(LIBBPF_LIBS) $(LIBMNL_LIBS) $(MHD_LIBS)
$(O)/obj/tests/unit/test_cli%.o: ALL_CFLAGS += $(LIBMNL_CFLAGS) -I$(O)/gen
# bpf/ code that needs no libbpf, linked alone: the iterator records and their read loop
$(O)/tests/unit/test_iter_rec: $(O)/obj/bpf/iter_rec.o $(O)/obj/bpf/iter_read.o
$(O)/tests/unit/%: $(O)/obj/tests/unit/%.o $(MOCK_OBJS) $(LIBHB) | $(O)/tests/unit
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $< $(filter %.o,$(filter-out $<,$^)) $(LIBHB) $(ALL_LDFLAGS) $(LDFLAGS_WRAP) \
		$(CMOCKA_LIBS) -lpthread

# Helper programs the integration tests run: tests/helpers/NAME.c -> $(O)/tests/helpers/NAME,
# tests/helpers/NAME_so.c -> $(O)/tests/helpers/NAME.so
HELPER_SRCS	:= $(filter-out %_so.c,$(wildcard tests/helpers/*.c))
HELPER_SO_SRCS	:= $(wildcard tests/helpers/*_so.c)
HELPER_BINS	:= $(HELPER_SRCS:tests/helpers/%.c=$(O)/tests/helpers/%) \
		   $(HELPER_SO_SRCS:tests/helpers/%_so.c=$(O)/tests/helpers/%.so)

$(O)/tests/helpers/%.so: $(O)/obj/tests/helpers/%_so.o | $(O)/tests/helpers
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -o $@ $< $(ALL_LDFLAGS)
$(O)/tests/helpers/%: $(O)/obj/tests/helpers/%.o | $(O)/tests/helpers
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $< $(ALL_LDFLAGS) -lpthread -ldl

BENCH_BIN	:= $(O)/tests/bench/hbbench
$(BENCH_BIN): $(O)/obj/tests/bench/hbbench.o | $(O)/tests/bench
	$(call msg,LD,$@)
	$(Q)$(CC) -o $@ $< $(ALL_LDFLAGS)

TEST_ENV	= O=$(O) HB_SAN='$(SAN)' CC='$(CC)' HB_VERSION='$(VERSION)'

deps:
	$(Q)scripts/deps.sh

test check-unit: $(UNIT_BINS)
	$(Q)$(TEST_ENV) tests/run.sh unit

# Everything the suites run, built without running them (for a targeted tests/run.sh -k NAME).
test-bins: all $(UNIT_BINS) $(HELPER_BINS) $(BENCH_BIN)

check-integ: all $(HELPER_BINS) $(BENCH_BIN)
	$(Q)$(TEST_ENV) tests/run.sh integ

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(HELPER_BINS) $(BENCH_BIN)
	$(Q)$(TEST_ENV) tests/run.sh unit integ

bench: all $(BENCH_BIN) $(HELPER_BINS)
	$(Q)$(TEST_ENV) scripts/bench.sh
	$(Q)if [ -x scripts/bench-hbctl.sh ]; then $(TEST_ENV) scripts/bench-hbctl.sh; fi
	$(Q)if [ -x scripts/bench-policy.sh ]; then $(TEST_ENV) scripts/bench-policy.sh; fi
	$(Q)if [ -x scripts/bench-monitor.sh ]; then $(TEST_ENV) scripts/bench-monitor.sh; fi
	$(Q)if [ -x scripts/bench-probe-nat.sh ]; then $(TEST_ENV) scripts/bench-probe-nat.sh; fi
	$(Q)if [ -x scripts/bench-paths.sh ]; then $(TEST_ENV) scripts/bench-paths.sh; fi

# hbctl (both back ends) against ss at 20k and 100k sockets
.PHONY: bench-hbctl
bench-hbctl: all $(HELPER_BINS)
	$(Q)$(TEST_ENV) scripts/bench-hbctl.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(TEST_ENV) scripts/demo.sh

# ---- fuzzing (libFuzzer from Debian's clang) ------------------------------------------------
FUZZ_SRCS	:= $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS	:= $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/fuzz/%)
FUZZ_TIME	?= 0
# A target that tests a pure cli/ source names it as a prerequisite; it is linked in too.
$(O)/fuzz/fuzz_policy_conf: cli/policy_conf.c cli/policy_conf.h
$(O)/fuzz/fuzz_diag: cli/diag.c cli/cli.h
$(O)/fuzz/fuzz_diag: FUZZ_LIBS := $(LIBMNL_LIBS)
# the exposition writer and the escapers (the HTTP request parser is libmicrohttpd's)
$(O)/fuzz/fuzz_prom: cli/prom.c cli/out.c cli/format.c cli/file.c cli/mon.h cli/out.h cli/file.h
$(O)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) | $(O)/fuzz
	$(call msg,FUZZCC,$@)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Icli -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(LIB_SRCS) $(filter cli/%.c,$^) $(FUZZ_LIBS)
# Each target has its own committed seed corpus, tests/fuzz/corpus/TARGET, kept minimal:
# `make fuzz-merge` folds what a run found (in $(O)/fuzz/corpus-TARGET) into it with -merge=1,
# which keeps only the inputs that add coverage.
fuzz: $(FUZZ_BINS)
	$(Q)if [ "$(FUZZ_TIME)" != 0 ]; then for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		mkdir -p $(O)/fuzz/corpus-$$n tests/fuzz/corpus/$$n; \
		$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 $(O)/fuzz/corpus-$$n \
			tests/fuzz/corpus/$$n || exit 1; done; fi
fuzz-merge: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p tests/fuzz/corpus/$$n; \
		$$f -merge=1 tests/fuzz/corpus/$$n $(O)/fuzz/corpus-$$n 2>&1 | grep MERGE-OUTER; done

# ---- ThreadSanitizer build of the shim and the thread stress helper --------------------------
# Only the shim and the helper: the TSan runtime lives in the (instrumented) executable, so
# the shim is linked with its __tsan_* references left undefined (-z undefs overrides -z defs).
tsan:
	$(Q)$(MAKE) --no-print-directory O=$(O)/tsan CC=$(CLANG) SAN=thread CFLAGS='-O1 -g' \
		LDFLAGS='-Wl,-z,undefs' $(O)/tsan/libhbshim.so $(O)/tsan/tests/helpers/threads
	$(Q)O=$(O)/tsan HB_SAN=thread tests/integ/_tsan.sh

# ---- systemd units (units/*.in, @BINDIR@ filled in) and the policies file --------------------
UNITDIR		?= $(PREFIX)/lib/systemd/system
SYSCONFDIR	?= /etc
UNITS		:= $(patsubst units/%.in,%,$(wildcard units/*.service.in))
.PHONY: units
units: | $(O)/units
	$(Q)for u in $(UNITS); do sed 's|@BINDIR@|$(BINDIR)|g' units/$$u.in >$(O)/units/$$u || exit 1; done

# ---- install ---------------------------------------------------------------------------------
MAN7		:= $(wildcard shim/*.7)
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
install: all units
	install -d $(DESTDIR)$(LIBDIR)/hb $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(O)/libhbshim.so $(DESTDIR)$(LIBDIR)/hb/libhbshim.so
	$(if $(MAN7),install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	$(if $(HBCTL),install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR))
	$(if $(HBCTL),install -m 0755 $(HBCTL) $(DESTDIR)$(BINDIR)/hbctl)
	$(if $(HBCTL),install -m 0644 cli/hbctl.8 $(DESTDIR)$(MANDIR)/man8/hbctl.8)
	$(if $(HBCTL),install -m 0644 cli/hbctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/hbctl)
	$(if $(HBCTL),install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/hbkeep)
	$(if $(HBCTL),install -m 0644 $(addprefix $(O)/units/,$(UNITS)) $(DESTDIR)$(UNITDIR)/)
	$(if $(HBCTL),[ -e $(DESTDIR)$(SYSCONFDIR)/hbkeep/policies.conf ] || \
		install -m 0644 units/policies.conf $(DESTDIR)$(SYSCONFDIR)/hbkeep/policies.conf)
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/hb/libhbshim.so $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	rm -f $(DESTDIR)$(BINDIR)/hbctl $(DESTDIR)$(MANDIR)/man8/hbctl.8 $(DESTDIR)$(BASHCOMPDIR)/hbctl
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	-rmdir $(DESTDIR)$(LIBDIR)/hb
	@# the policies file goes only as installed; an edited one stays (as dpkg keeps conffiles)
	@f=$(DESTDIR)$(SYSCONFDIR)/hbkeep/policies.conf; if cmp -s units/policies.conf $$f; then \
		rm -f $$f && rmdir $(DESTDIR)$(SYSCONFDIR)/hbkeep 2>/dev/null; true; \
	elif [ -e $$f ]; then echo "uninstall: $$f was edited: left in place"; fi

# ---- Debian package ---------------------------------------------------------------------------
# dpkg-buildpackage (debian/rules drives this Makefile) in a copy of the sources under
# $(O)/deb, so that the tree and its build directories stay untouched; the .deb lands in $(O)/.
# DEB_BUILD_OPTIONS passes through (nocheck skips the unit tests, parallel=N).
DEB_TREE	:= $(O)/deb/hbkeep-$(VERSION)
.PHONY: deb
deb:
	$(Q)v=$$(dpkg-parsechangelog -l debian/changelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
		{ echo "make deb: debian/changelog is at $$v, VERSION is $(VERSION): add an entry (dch -v $(VERSION))" >&2; exit 1; }
	$(Q)rm -rf $(O)/deb && mkdir -p $(DEB_TREE)
	$(Q)tar -c --exclude='./build*' --exclude='./$(O)' --exclude=./.git . | \
		tar -x -C $(DEB_TREE)
	$(call msg,DEB,$(O)/hbkeep_$(VERSION)_$(shell dpkg --print-architecture).deb)
	@# a fresh make: no SAN=, O= or jobserver of a `make check` this runs under reaches the package
	$(Q)cd $(DEB_TREE) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN \
		dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -n 40 ../build.log >&2; echo "make deb: failed, log in $(O)/deb/build.log" >&2; exit 1; }
	$(Q)cp $(O)/deb/hbkeep_$(VERSION)_*.deb $(O)/

clean:
	rm -rf $(O)

$(O)/lib $(O)/obj/lib $(O)/obj/shim $(O)/obj/tests/unit $(O)/obj/tests/unit/mocks \
$(O)/obj/tests/helpers $(O)/obj/tests/bench $(O)/tests/unit $(O)/tests/helpers $(O)/tests/bench \
$(O)/fuzz $(O)/gen $(O)/bpf $(O)/obj/cli $(O)/obj/bpf $(O)/units:
	$(Q)mkdir -p $@

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
