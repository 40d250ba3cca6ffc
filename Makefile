# envcryptfs build. `make` builds everything with warnings as errors; `make check` rebuilds
# under AddressSanitizer and UndefinedBehaviorSanitizer in build-san/ and runs every test.

PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
# systemd reads units from /usr/local/lib/systemd/system too; a distribution package sets
# UNITDIR=/lib/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
BUILD   ?= build

CC      ?= cc
# tss2-mu: the library reads TPM2 key slots' blobs (envcryptfs/lib/tpm2_blob.c).
PKGS    := fuse3 openssl json-c libargon2 tss2-mu
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
# p11-kit's pkcs11.h only: PKCS#11 modules are loaded at run time (lib/pkcs11.c), never linked.
P11_CFLAGS := $(shell pkg-config --cflags p11-kit-1)
# The TPM itself (envcryptfs/lib/tpm2.c): only the tools that seal or unseal link it.
TPM2_PROGS := envcryptfs mkfs.envcryptfs envcryptfsctl
TPM2_LIBS  := $(shell pkg-config --libs tss2-esys tss2-tctildr tss2-rc)
# io_uring (the daemon's -o io_uring transport, envcryptfs/daemon/uring.c).
URING_LIBS := $(shell pkg-config --libs liburing)

WARN := -Wall -Wextra -Werror -Wvla -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wshadow -Wcast-align -Wpointer-arith -Wundef -fno-common
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -fstack-protector-strong \
	$(PKG_CFLAGS) $(P11_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lpthread
# Every symbol bound at load (and the GOT read-only after it): a lazily bound call goes
# through ld.so's resolver, which saves all vector registers on the caller's stack, and
# those may still hold a key the cipher just used: it stayed there, outside locked memory.
LDFLAGS += -Wl,-z,relro,-z,now

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS  += -D_FORTIFY_SOURCE=2
endif

# Fault injection (envcryptfs/lib/fault.c) goes into test builds only: by default with
# SANITIZE=1, never into a plain `make`; `make check-no-fault-hooks` proves the latter.
FAULT_INJECTION ?= $(SANITIZE)
ifeq ($(FAULT_INJECTION),1)
CFLAGS  += -DECFS_FAULT_INJECTION
endif

# What each part may include is what the build lets it see (tests/lint/includes.sh checks
# the rest): the utilities everyone; the library's private header the library alone; the
# tools' header the tools and kmsd; the KMS client's private header the client alone.
INC_UTIL   := -Ienvcryptfs/util
INC_LIB    := $(INC_UTIL) -Ienvcryptfs/include -Ienvcryptfs/lib
INC_TOOL   := $(INC_UTIL) -Ienvcryptfs/include -Ienvcryptfs/tool -Ikms/include
INC_KMS    := $(INC_UTIL) -Ienvcryptfs/include -Ikms/include -Ikms/proto
INC_KMSD   := $(INC_KMS) -Ienvcryptfs/tool -Ikms/store
# Tests and fuzz targets reach into everything.
INC_ALL    := $(INC_LIB) -Ienvcryptfs/tool -Ikms/include -Ikms/proto -Ikms/client -Ikms/store
$(BUILD)/obj/envcryptfs/util/%.o: INC := $(INC_UTIL)
$(BUILD)/obj/envcryptfs/lib/%.o: INC := $(INC_LIB)
$(BUILD)/obj/envcryptfs/tool/%.o $(BUILD)/obj/envcryptfs/daemon/%.o \
$(BUILD)/obj/envcryptfs/ctl/%.o $(BUILD)/obj/mkfs.envcryptfs/%.o \
$(BUILD)/obj/fsck.envcryptfs/%.o: INC := $(INC_TOOL)
$(BUILD)/obj/kms/client/%.o $(BUILD)/obj/kms/proto/%.o $(BUILD)/obj/kms/store/%.o: INC := $(INC_KMS)
$(BUILD)/obj/kms/server/%.o: INC := $(INC_KMSD)

UTIL_SRC  := $(wildcard envcryptfs/util/*.c)
LIB_SRC   := $(wildcard envcryptfs/lib/*.c)
TOOL_SRC  := $(wildcard envcryptfs/tool/*.c)
# The KMS client (libcurl) and the wire formats (Transit and KV JSON), shared by the tools
# and kmsd; kmsd's sealed store (Shamir shares, the key and secret stores) is kmsd's alone.
KMS_SRC   := $(wildcard kms/client/*.c kms/proto/*.c)
KMSD_SRC  := $(wildcard kms/store/*.c)
UTILLIB   := $(BUILD)/libecfsutil.a
LIB       := $(BUILD)/libenvcryptfs.a
TOOLLIB   := $(BUILD)/libecfstool.a
KMSLIB    := $(BUILD)/libecfskms.a
KMSDLIB   := $(BUILD)/libecfskmsd.a

# Each program: its name and the directory holding its sources.
PROG_DIRS := envcryptfs:envcryptfs/daemon mkfs.envcryptfs:mkfs.envcryptfs \
	fsck.envcryptfs:fsck.envcryptfs envcryptfsctl:envcryptfs/ctl \
	envcryptfs-kmsd:kms/server
prog_name = $(word 1,$(subst :, ,$(1)))
prog_dir  = $(word 2,$(subst :, ,$(1)))
PROGS := $(foreach p,$(PROG_DIRS),$(if $(wildcard $(call prog_dir,$(p))/*.c),$(call prog_name,$(p))))

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
# Helper programs the integration tests drive (random-operation tester and the like).
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.PHONY: all check unit integration install uninstall clean fuzz fuzz-smoke bench bench-formats format format-check \
	check-no-fault-hooks check-deploy crash-test stress-test FORCE
all: $(addprefix $(BUILD)/,$(PROGS))

# Archives are made anew, so that no member outlives its source (a file moved elsewhere).
# Objects are rebuilt (and programs relinked) when the flags change (SANITIZE,
# FAULT_INJECTION, LDFLAGS), so that a build directory never mixes test and release objects.
$(BUILD)/cflags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CFLAGS) $(LDFLAGS)' >$@

# Every object of the tools and the library: banned functions are compile errors there.
$(BUILD)/obj/%.o: %.c $(BUILD)/cflags envcryptfs/banned.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -include envcryptfs/banned.h -c -o $@ $<

$(UTILLIB): $(call obj,$(UTIL_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(TOOLLIB): $(call obj,$(TOOL_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(KMSLIB): $(call obj,$(KMS_SRC)) $(if $(KMS_SRC),,$(BUILD)/obj/empty.o)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(KMSDLIB): $(call obj,$(KMSD_SRC))
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'typedef int ecfs_empty_unit;' | $(CC) -x c -c -o $@ -

define prog_rule
$(BUILD)/$(call prog_name,$(1)): $(call obj,$(wildcard $(call prog_dir,$(1))/*.c)) $(if $(findstring kmsd,$(1)),$(KMSDLIB)) \
		$(TOOLLIB) $(KMSLIB) $(LIB) $(UTILLIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) -lcurl $$(if $$(findstring kmsd,$$@),-lmicrohttpd -lgnutls) \
		$$(if $$(filter $$(TPM2_PROGS),$$(notdir $$@)),$$(TPM2_LIBS)) \
		$$(if $$(filter envcryptfs,$$(notdir $$@)),$$(URING_LIBS))
endef
$(foreach p,$(PROG_DIRS),$(if $(wildcard $(call prog_dir,$(p))/*.c),$(eval $(call prog_rule,$(p)))))

$(BUILD)/tests/%: tests/unit/%.c $(KMSDLIB) $(TOOLLIB) $(KMSLIB) $(LIB) $(UTILLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) -DECFS_TESTVECTORS='"$(abspath tests/vectors)"' $(LDFLAGS) \
		-o $@ $(filter %.c %.a,$^) $(LDLIBS) $(TPM2_LIBS) -lcurl -lmicrohttpd -lcriterion

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) $(LDFLAGS) -o $@ $< -lpthread

# chunkbench measures the library's chunk paths (README, "Performance"); built with the tests
# so that it keeps compiling.
$(BUILD)/tools/chunkbench: tests/bench/chunkbench.c $(LIB) $(UTILLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) $(LDFLAGS) -o $@ $< $(LIB) $(UTILLIB) $(LDLIBS) $(TPM2_LIBS)

# keyprobe reads a volume's keys through the library's internals.
$(BUILD)/tools/keyprobe: tests/tools/keyprobe.c $(LIB) $(UTILLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_ALL) $(LDFLAGS) -o $@ $< $(LIB) $(UTILLIB) $(LDLIBS)

unit: all $(UNIT_TESTS)
	cd tests/vectors && sha256sum -c --quiet SHA256SUMS
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t --jobs 2; done

# Two integration tests at a time by default (ECFS_TEST_JOBS=N to change it): most of their
# time is spent waiting on daemons, deadlines and sleeps, not on the CPU.
ECFS_TEST_JOBS ?= 2
integration: all $(TEST_TOOLS) $(BUILD)/tools/chunkbench
	ECFS_TEST_JOBS=$(ECFS_TEST_JOBS) ECFS_BIN=$(abspath $(BUILD)) tests/integration/run.sh

# The whole suite under ASan and UBSan. The builds inside it use every core even when
# `make check` itself is run without -j; the tests decide their own parallelism.
CHECK_JOBS ?= $(shell nproc)
check:
	$(MAKE) -j$(CHECK_JOBS) BUILD=build-san SANITIZE=1 all $(patsubst $(BUILD)/%,build-san/%,$(UNIT_TESTS)) \
		$(TEST_TOOLS:$(BUILD)/%=build-san/%) build-san/tools/chunkbench
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MAKE) BUILD=build-san SANITIZE=1 unit integration
	$(MAKE) check-deploy DEPLOY_TESTS=tests/deploy/d200-sidecar.sh
	$(MAKE) -j$(CHECK_JOBS) $(FUZZ_BINS)
	$(MAKE) fuzz-smoke
	$(MAKE) check-no-fault-hooks
	tests/lint/man.sh
	tests/lint/includes.sh

# The Kubernetes recipes of deploy/kubernetes played on this machine, as root, with mount
# namespaces standing in for the node, the pods' containers and their volumes
# (tests/deploy/play.inc): the sidecar pod, the same in a user namespace, the DaemonSet.
# `make check` plays the sidecar pod only.
DEPLOY_TESTS ?= $(sort $(wildcard tests/deploy/d[0-9]*.sh))
check-deploy:
	$(MAKE) BUILD=build-san SANITIZE=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ECFS_BIN=$(abspath build-san) tests/integration/run.sh $(DEPLOY_TESTS)

# The release binaries hold neither the fault variables' names nor the test version suffix.
FAULT_MARKS := -e ECFS_FAULT_ -e fault-injection -e 'fault injected'
check-no-fault-hooks:
	$(MAKE) BUILD=build SANITIZE=0 FAULT_INJECTION=0 all
	@if grep -l -a $(FAULT_MARKS) $(addprefix build/,$(PROGS)) build/libenvcryptfs.a \
		build/libecfsutil.a; then \
		echo "fault-injection hooks in the release binaries listed above" >&2; exit 1; fi
	@echo "no fault-injection hooks in the release binaries"

# The concurrency stress test (t5100, part of `make check` for a few seconds per cache mode)
# for longer under ASan and UBSan: `make stress-test STRESS_SECONDS=600` runs each mode that
# long; STRESS_NOFILE=N in the environment runs the daemon with N descriptors (inodes park);
# STRESS_FORMAT=1 runs it on format-1 volumes (the default is 2).
STRESS_SECONDS ?= 600
STRESS_FORMAT ?= 2
stress-test:
	$(MAKE) BUILD=build-san SANITIZE=1 all build-san/tools/stress
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		STRESS_SECONDS=$(STRESS_SECONDS) STRESS_FORMAT=$(STRESS_FORMAT) ECFS_TEST_TIMEOUT=$$((2 * $(STRESS_SECONDS) + 600)) \
		ECFS_BIN=$(abspath build-san) tests/integration/run.sh tests/integration/t5100-stress.sh

# libFuzzer targets, one per parser: `make fuzz FUZZ_SECONDS=60` runs each for that long;
# `make fuzz-smoke` (part of `make check`) runs each over its seeds and for a few seconds.
# The parsers they reach are compiled once into build-fuzz/libfuzz.a.
FUZZ_SECONDS ?= 30
FUZZ_SMOKE_SECONDS ?= 2
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE $(INC_ALL) $(PKG_CFLAGS) $(P11_CFLAGS) -MMD -MP
# The tools' code too (status replies, the KMS configuration file), and with it the KMS client.
FUZZ_LIB_SRC := $(UTIL_SRC) $(LIB_SRC) $(KMS_SRC) $(KMSD_SRC) $(TOOL_SRC)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))

build-fuzz/obj/%.o: %.c envcryptfs/banned.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -include envcryptfs/banned.h \
		-c -o $@ $<

build-fuzz/libfuzz.a: $(patsubst %.c,build-fuzz/obj/%.o,$(FUZZ_LIB_SRC))
	rm -f $@
	$(AR) rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libfuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< build-fuzz/libfuzz.a \
		$(PKG_LIBS) -lcurl -lpthread

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BINS)

bench: all
	tests/bench/run.sh

# Format 2 against format 1 in paired rounds (tests/bench/formats.sh).
bench-formats: all
	tests/bench/formats.sh

# A long crash run: the daemon killed CRASH_ROUNDS times under the crashload workload
# (t5010; make check runs a short one). ECFS_CRASH_SEED=N in the environment replays a run.
CRASH_ROUNDS ?= 60
crash-test:
	$(MAKE) BUILD=build-san SANITIZE=1 all build-san/tools/crashload
	ECFS_CRASH_ROUNDS=$(CRASH_ROUNDS) ECFS_TEST_TIMEOUT=$$(( $(CRASH_ROUNDS) * 30 + 60 )) \
		ECFS_BIN=$(abspath build-san) tests/integration/run.sh \
		tests/integration/t5010-crash-daemon.sh

# What `make install` puts where: tools in sbin (where mount.fuse3 and fsck(8) look), the man
# pages, and the systemd template unit with the daemon's installed path filled in.
MAN8  := $(notdir $(wildcard man/*.8))
MAN5  := $(notdir $(wildcard man/*.5))
UNITS := $(notdir $(wildcard deploy/systemd/*.service))

$(BUILD)/systemd/%.service: deploy/systemd/%.service FORCE
	@mkdir -p $(dir $@)
	sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@.tmp && mv $@.tmp $@

install: all $(addprefix $(BUILD)/systemd/,$(UNITS))
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(addprefix $(BUILD)/,$(PROGS)) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(addprefix man/,$(MAN8)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(addprefix man/,$(MAN5)) $(DESTDIR)$(MANDIR)/man5/
	$(if $(UNITS),install -d $(DESTDIR)$(UNITDIR))
	$(if $(UNITS),install -m 0644 $(addprefix $(BUILD)/systemd/,$(UNITS)) $(DESTDIR)$(UNITDIR)/)

# Removes exactly the files install puts; directories stay (they may be shared, as
# /usr/local/sbin is).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(PROGS)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(MAN5)) \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) build-fuzz -name '*.d' 2>/dev/null)
