# imapproxy: a single GNU Makefile (STYLE.md section 9).

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
PYTHON	?= /usr/bin/python3
B	:= build

# Debian 12 ships libev without a pkg-config file; fall back to -lev.
PKGS	:= openssl inih libmaxminddb libcares
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
	      $(shell pkg-config --libs libev 2>/dev/null || echo -lev)
# Only imapproxyctl reads JSON.
CTL_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

WARNINGS = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wsign-compare -Wformat=2 \
	   -Wno-unused-parameter
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Iinclude $(WARNINGS) $(PKG_CFLAGS) \
	     $(CFLAGS) -MMD -MP
LDLIBS	= $(PKG_LIBS) -lpthread -lm

VERSION	:= 0.1.0
INIH_VERSION := $(shell pkg-config --modversion inih 2>/dev/null || echo unknown)
VERSION_DEFS = -DIMAPPROXY_VERSION='"$(VERSION)"' -DINIH_VERSION='"$(INIH_VERSION)"'
MAINS	:= proxy/imapproxyd.c proxy/imapproxyctl.c
# libimapproxy.a needs libacl.a, never the other way: what acl/ uses from
# proxy/ (the error buffer) is archived in libacl.a only, so the link
# order stays libimapproxy.a then libacl.a.
ACLSHARED := proxy/errbuf.c
LIBSRC	:= $(filter-out $(MAINS) $(ACLSHARED),$(wildcard proxy/*.c))
LIBOBJ	:= $(LIBSRC:%.c=$(B)/%.o)
ACLSRC	:= $(wildcard acl/*.c) $(ACLSHARED)
ACLOBJ	:= $(ACLSRC:%.c=$(B)/%.o)
ACLLIB	:= $(if $(ACLSRC),$(B)/libacl.a)
UNITSRC	:= $(wildcard tests/unit/test_*.c)
UNITBIN	:= $(UNITSRC:tests/unit/%.c=$(B)/tests/%)

# Packages a fresh Debian 12 needs to build, test and run the demo.
DEB_PKGS := gcc make pkg-config libssl-dev libev-dev libinih-dev \
	    libmaxminddb-dev libc-ares-dev libcmocka-dev openssl curl \
	    dovecot-imapd python3 python3-pytest python3-pytest-xdist \
	    isync procps dnsmasq-base libmaxmind-db-writer-perl \
	    libjansson-dev haproxy prometheus clang libclang-rt-14-dev \
	    mandoc offlineimap3 fetchmail neomutt tmux man-db

.PHONY: all deps check check-unit check-system demo install clean lint format

all: $(B)/imapproxyd $(B)/imapproxyctl

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(VERSION_DEFS) -c $< -o $@

# Rebuilt from scratch: ar keeps members that moved to the other archive.
$(B)/libimapproxy.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/libacl.a: $(ACLOBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/imapproxyd: $(B)/proxy/imapproxyd.o $(B)/libimapproxy.a $(ACLLIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/imapproxyctl: $(B)/proxy/imapproxyctl.o $(B)/libimapproxy.a $(ACLLIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CTL_LIBS) $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libimapproxy.a $(ACLLIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c %.a,$^) $(CTL_LIBS) $(LDLIBS) -lcmocka

# Installs what is missing; as root through apt-get, otherwise it prints
# the command.  policy-rc.d keeps Dovecot's package from starting a system
# service: the tests and the demo run their own instances.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	cmd="apt-get install -y --no-install-recommends $$(echo $$missing)"; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "missing packages; run as root:"; \
		echo "  apt-get update && $$cmd"; exit 1; fi; \
	guard=0; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=1; \
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; \
		chmod 755 /usr/sbin/policy-rc.d; fi; \
	echo "installing: $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	{ $$cmd || { apt-get update -q && $$cmd; }; }; rc=$$?; \
	[ $$guard = 1 ] && rm -f /usr/sbin/policy-rc.d; exit $$rc

check: deps
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) fuzz-smoke
	$(MAKE) check-system

check-unit: $(UNITBIN)
	@fail=0; for t in $(UNITBIN); do $$t || fail=1; done; exit $$fail

check-system: all
	$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_FLAGS) tests/system

demo: deps
	$(MAKE) all
	$(PYTHON) tests/demo.py

# The ACL benchmark (contrib/bench/acl_bench.c, issue 4): load and
# decision times at 10, 1,000 and 100,000 rules.  Not part of all or check.
.PHONY: bench-acl
bench-acl: $(B)/acl_bench
	$(B)/acl_bench

$(B)/acl_bench: contrib/bench/acl_bench.c $(B)/libacl.a
	$(CC) $(ALL_CFLAGS) -Iacl -o $@ $< $(B)/libacl.a

# The routes map benchmark (contrib/bench/routes_bench.c, issue 5): load
# time, lookup time and memory at 1,000, 100,000 and 1,000,000 lines.
# Not part of all or check.
.PHONY: bench-routes
bench-routes: $(B)/routes_bench
	$(B)/routes_bench

$(B)/routes_bench: contrib/bench/routes_bench.c $(B)/libimapproxy.a \
	    $(B)/libacl.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libimapproxy.a $(B)/libacl.a

# The benchmark beside the peers (contrib/bench/README.md): installs
# nginx, Perdition, HAProxy and Dovecot from Debian, runs them and two
# imapproxyd daemons on 127.0.0.1, then bench-acl and bench-routes, and
# writes a Markdown report and a PNG chart into /tmp/imapbench/results
# (BENCH_DIR, BENCH_OUT).
# BENCH_QUICK=1 checks the plumbing in minutes.  Not part of all or check.
.PHONY: bench
bench: all
	contrib/bench/run.sh

# Sanitizers (issue 7): the daemon, imapproxyctl and the unit tests built
# with ASan and UBSan into $(ASAN_B) by the rules above, then check-unit
# and check-system against them (tests/system/conftest.py reads
# IMAPPROXY_BUILD).  Any report fails: UBSan does not recover, ASan and
# LeakSanitizer (leaks at exit) make the status 66.  Not part of check.
ASAN_B	    := build-asan
ASAN_CFLAGS ?= -fsanitize=address,undefined -fno-sanitize-recover=all \
	       -fno-omit-frame-pointer -g -O1
ASAN_MAKE   = $(MAKE) B=$(ASAN_B) CFLAGS="$(ASAN_CFLAGS)" \
	      LDFLAGS="$(ASAN_CFLAGS)"
# The sanitized pass runs the system tests two at a time: most of them
# wait on timeouts, and the timing bounds already allow for ASan (SLOW).
ASAN_PYTEST_FLAGS ?= -n 2
ASAN_ENV    := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66:$\
	strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=print_suppressions=0

.PHONY: asan check-asan clean-asan
asan: check-asan

check-asan: deps
	$(ASAN_MAKE) all
	$(ASAN_ENV) $(ASAN_MAKE) check-unit
	$(ASAN_ENV) IMAPPROXY_BUILD=$(ASAN_B) $(ASAN_MAKE) \
	    PYTEST_FLAGS="$(ASAN_PYTEST_FLAGS)" check-system

clean: clean-asan
clean-asan:
	rm -rf $(ASAN_B)

# The soak (issue 7): mixed load for SOAK_MINUTES against a real Dovecot,
# RSS sampled every 10 s into $(B)/soak.csv.  Not part of check.
SOAK_MINUTES ?= 30
.PHONY: soak
soak: all
	$(PYTHON) tests/soak/soak.py --minutes $(SOAK_MINUTES) \
	    --csv $(B)/soak.csv

# Installation (issue 9): the programs, the man pages, the etc/ samples
# as examples and the systemd unit.  The samples go where Debian Policy
# (s.12.6) and dh_installexamples put examples, never into /etc, so an
# install never overwrites a live configuration.  The unit's
# ExecStart/ExecStartPre lines name /usr/sbin; sed points them at
# $(SBINDIR).  Outside /usr and /usr/local, systemd does not look in
# $(SYSTEMDUNITDIR): `systemctl link` the unit (contrib/README.md).
SBINDIR	       ?= $(PREFIX)/sbin
MANDIR	       ?= $(PREFIX)/share/man
EXAMPLESDIR    ?= $(PREFIX)/share/doc/imapproxy/examples
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INST_BIN	:= imapproxyd imapproxyctl
INST_MAN8	:= proxy/imapproxyd.8 proxy/imapproxyctl.8
INST_MAN5	:= proxy/imapproxy.conf.5 proxy/imapproxy.routes.5 \
		   acl/imapproxy.acl.5
INST_EXAMPLES	:= etc/imapproxy.conf etc/default.acl etc/routes.map

.PHONY: uninstall
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(EXAMPLESDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 755 $(INST_BIN:%=$(B)/%) $(DESTDIR)$(SBINDIR)/
	install -m 644 $(INST_MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(INST_MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 $(INST_EXAMPLES) $(DESTDIR)$(EXAMPLESDIR)/
	sed 's|^\(ExecStart[A-Za-z]*=[-@:+!]*\)/usr/sbin/|\1$(SBINDIR)/|' \
	    contrib/imapproxyd.service >$(B)/imapproxyd.service
	install -m 644 $(B)/imapproxyd.service $(DESTDIR)$(SYSTEMDUNITDIR)/

# Removes what install put there, and the folders only imapproxy uses.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(INST_BIN)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(INST_MAN8))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(INST_MAN5))) \
	    $(addprefix $(DESTDIR)$(EXAMPLESDIR)/,$(notdir $(INST_EXAMPLES))) \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/imapproxyd.service
	rmdir $(DESTDIR)$(EXAMPLESDIR) $(DESTDIR)$(PREFIX)/share/doc/imapproxy \
	    2>/dev/null || true

# Fuzzing (issue 7): libFuzzer targets tests/fuzz/fuzz_NAME.c, built with
# clang against the sources compiled again with sanitizer coverage into
# $(FUZZ_B)/obj (the gcc objects carry none).  `make fuzz` runs each of
# FUZZ_TARGETS for FUZZ_SECONDS, FUZZ_JOBS at a time; `make fuzz-smoke`
# (part of check) replays tests/fuzz/corpus and tests/fuzz/regress and
# mutates each for FUZZ_SMOKE_SECONDS.  tests/fuzz/README.md has more.
FUZZ_CC	     ?= clang
FUZZ_B	     := $(B)/fuzz
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -Iinclude $(WARNINGS) $(PKG_CFLAGS) \
	       -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	       -fno-sanitize-recover=all -MMD -MP
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,\
		$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(LIBSRC) $(ACLSRC))
FUZZ_RUN     = FUZZ_B=$(FUZZ_B) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	       FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) \
	       tests/fuzz/run.sh

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

fuzz: fuzz-build
	$(FUZZ_RUN) fuzz $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	$(FUZZ_RUN) smoke $(FUZZ_TARGETS)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(VERSION_DEFS) \
	    -c $< -o $@

$(FUZZ_B)/libfuzz.a: $(FUZZ_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_B)/libfuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_B)/libfuzz.a $(LDLIBS)

lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|gets)\(' proxy/*.c acl/*.c \
		include/*.h || { echo "lint: banned function"; exit 1; }

format:
	clang-format -i proxy/*.c acl/*.c include/*.h tests/unit/*.c

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
