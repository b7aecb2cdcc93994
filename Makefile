# backstore — one flat Makefile.  `make run` and `make check` are all a new
# user types; both install what they need through scripts/deps.sh.

CC       ?= cc
BUILD    ?= build
# Where `make install` / `make uninstall` put things (DESTDIR is prepended).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Work of `make run` / `make campaign`; override on the command line.
RUN_ARGS      ?= --profile apfs --seeds 16 --ops 2000
CAMPAIGN_ARGS ?= --profile apfs --seeds 400 --ops 5000
# The long differential run of `make campaign`, on each real filesystem.
DIFF_ARGS     ?= --seeds 100 --ops 2000

UNAME_S := $(shell uname -s)

# The version is the one in include/backstore.h (BS_VERSION_*); the shared
# library's soname carries the major: libbackstore.so.MAJOR.
bs_version_part = $(shell sed -n 's/^\#define BS_VERSION_$(1) \([0-9]*\).*/\1/p' include/backstore.h)
VERSION_MAJOR := $(call bs_version_part,MAJOR)
VERSION       := $(VERSION_MAJOR).$(call bs_version_part,MINOR).$(call bs_version_part,PATCH)
SONAME        := libbackstore.so.$(VERSION_MAJOR)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wno-missing-field-initializers
BASE_CFLAGS = -MMD -MP -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -I. -g $(WARN) $(FIU_CFLAGS) \
              $(PLIST_CFLAGS)
OPT      ?= -O2
CFLAGS   ?=
LDFLAGS  ?=
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# The library: core, sim, faults, the portable part of real/ (darwin.c's
# logic included: its Linux tests run it through a fake seam), and the
# platform half of real/ chosen here.
LIB_SRC := $(sort $(wildcard src/*.c sim/*.c faults/*.c real/parse_*.c) \
             $(wildcard real/sys.c real/tool.c real/ramdisk.c real/ramdisk_darwin.c real/resolve.c real/posix.c real/host.c real/host_ns.c real/host_snap.c real/darwin.c \
             real/darwin_snap.c real/darwin_tree.c))
ifeq ($(UNAME_S),Darwin)
LIB_SRC += $(wildcard real/darwin_libc.c real/darwin_libc_snap.c)
else
LIB_SRC += real/linux.c real/linux_snap.c real/linux_perm.c
# The shared library is built on Linux (ELF, soname); macOS links the archive.
SHLIB   := $(BUILD)/plain/libbackstore.so.$(VERSION)
endif
# The library's own objects are position-independent (they also make the
# shared library) and export only what the headers mark BS_API.
LIB_CFLAGS := -fPIC -fvisibility=hidden

# The lab (campaigns, model/oracle, traces, diff): its own library, linked
# by bslab, the tests and the fuzzers before libbackstore.a, never part of it.
LAB_SRC := $(sort $(wildcard lab/*.c))

# libfiu fault points (real/sys.c): compiled in where libfiu is installed
# (scripts/deps.sh installs it on Debian); without it they compile to nothing.
FIU_PREFIX := $(firstword $(patsubst %/include/fiu.h,%,$(wildcard /usr/include/fiu.h \
                /usr/local/include/fiu.h /opt/homebrew/include/fiu.h)))
ifneq ($(FIU_PREFIX),)
FIU_CFLAGS := -DFIU_ENABLE $(if $(filter /usr,$(FIU_PREFIX)),,-I$(FIU_PREFIX)/include)
LIBS_FIU   := $(if $(filter /usr,$(FIU_PREFIX)),,-L$(FIU_PREFIX)/lib) -lfiu
endif

# libplist reads `diskutil ... -plist` output (real/parse_diskutil_plist.c):
# compiled in where pkg-config finds it (scripts/deps.sh installs it on
# Debian, Homebrew has it); without it the -plist parser says UNSUPPORTED.
PLIST_PC := $(shell pkg-config --exists libplist-2.0 2>/dev/null && echo libplist-2.0)
ifneq ($(PLIST_PC),)
PLIST_CFLAGS := -DBS_HAVE_PLIST $(shell pkg-config --cflags $(PLIST_PC))
LIBS_PLIST   := $(shell pkg-config --libs $(PLIST_PC))
endif

# libfuse3 serves `bslab mount` (tools/bslab/mount.c): compiled in where
# pkg-config finds it (scripts/deps.sh installs it on Debian); without it
# the verb says that this bslab was built without FUSE.
FUSE_PC := $(shell pkg-config --exists fuse3 2>/dev/null && echo fuse3)
ifneq ($(FUSE_PC),)
FUSE_CFLAGS := -DBS_HAVE_FUSE $(shell pkg-config --cflags $(FUSE_PC))
LIBS_FUSE   := $(shell pkg-config --libs $(FUSE_PC))
endif

BSLAB_SRC   := $(sort $(wildcard tools/bslab/*.c))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
TEST_SRC    := $(sort $(wildcard tests/test_*.c))
# Real test volumes are made on Linux (loop devices, mkfs); elsewhere the
# fixture reports them unavailable and the real targets are skipped.
ifeq ($(UNAME_S),Darwin)
TEST_SUPPORT := $(filter-out tests/support/volume.c tests/support/volume_sys.c \
                  tests/support/host_tree.c,$(TEST_SUPPORT))
TEST_SRC    := $(filter-out tests/test_real.c tests/test_volume.c tests/test_linux_snap.c \
                  tests/test_snapshot_procs.c tests/test_ramdisk.c,$(TEST_SRC))
VOLCTL      :=
else
TEST_SUPPORT := $(filter-out tests/support/volume_none.c,$(TEST_SUPPORT))
VOLCTL       = $(PLAIN)/tests/volctl
endif
TEST_NAMES  := $(basename $(notdir $(TEST_SRC)))
TEST_LIBS   = -lcmocka -lm -lpthread $(LIBS_FIU) $(LIBS_PLIST)
LIBS        = -lm -lpthread $(LIBS_FIU) $(LIBS_PLIST)

# Fuzz targets fuzz/<t>_fuzzer.c, each with a seed corpus corpora/<t>/.
FUZZ_TARGETS := $(patsubst fuzz/%_fuzzer.c,%,$(sort $(wildcard fuzz/*_fuzzer.c)))
FUZZ_SECONDS ?= 180
# AFL++ instances per target (make fuzz JOBS=n: one -M main, n-1 -S secondaries).
JOBS         ?= 1
# AFL++ compiler wrapper: instruments for afl-fuzz, links its driver.
AFL_CC       ?= afl-clang-fast
FUZZ_FLAGS   := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

# Two flavours of everything: plain (-O2) and sanitized (ASan+UBSan); two
# more only for make fuzz: AFL++-instrumented with ASan+UBSan, and the same
# with AFL++'s comparison logging (CmpLog, no sanitizers) that afl-fuzz -c uses
# to solve magic values and lengths.
PLAIN := $(BUILD)/plain
ASAN  := $(BUILD)/asan
AFL   := $(BUILD)/afl

.PHONY: FORCE all lib run check quickcheck fuzz fuzz-cmin campaign bench bench-gate bench-baseline install uninstall \
        clean deps tests docs check-package deb dist

all: deps lib

# What `make install` installs, without the dependency check (a package
# build has its build dependencies from debian/control).
lib: $(PLAIN)/libbackstore.a $(SHLIB) $(PLAIN)/liblab.a $(BUILD)/bslab $(BUILD)/fsx

deps:
	@scripts/deps.sh

# ---- objects -------------------------------------------------------------
# A flavour's objects are rebuilt when its compile flags change (a stamp
# rewritten only then): an old object built without -fvisibility=hidden
# would otherwise leak internal symbols into the shared library.
flags_of = $(CC) $(BASE_CFLAGS) $(if $(findstring $(ASAN),$1),$(SAN_FLAGS),$(OPT)) $(LIB_CFLAGS) $(CPPFLAGS) $(CFLAGS)
$(PLAIN)/.flags $(ASAN)/.flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(call flags_of,$@)' | cmp -s - $@ || echo '$(call flags_of,$@)' > $@
FORCE:

$(PLAIN)/%.o: %.c $(PLAIN)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(OBJ_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(ASAN)/%.o: %.c $(ASAN)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(OBJ_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_SRC:%.c=$(PLAIN)/%.o) $(LIB_SRC:%.c=$(ASAN)/%.o): OBJ_CFLAGS = $(LIB_CFLAGS)

# The archives depend on the Makefile too: a file moved out of a library
# (src/ to lab/) must leave its archive even when no object is newer.
$(PLAIN)/libbackstore.a: $(LIB_SRC:%.c=$(PLAIN)/%.o) Makefile
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

# The shared library (Linux): libbackstore.so.VERSION, soname
# libbackstore.so.MAJOR, and the libbackstore.so link for -lbackstore.
$(PLAIN)/libbackstore.so.$(VERSION): $(LIB_SRC:%.c=$(PLAIN)/%.o) Makefile
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,-z,relro -Wl,-z,now $(LDFLAGS) \
	  -o $@ $(filter %.o,$^) $(LIBS)
	ln -sf libbackstore.so.$(VERSION) $(PLAIN)/$(SONAME)
	ln -sf $(SONAME) $(PLAIN)/libbackstore.so

$(ASAN)/libbackstore.a: $(LIB_SRC:%.c=$(ASAN)/%.o) Makefile
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

$(PLAIN)/liblab.a: $(LAB_SRC:%.c=$(PLAIN)/%.o) Makefile
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

$(ASAN)/liblab.a: $(LAB_SRC:%.c=$(ASAN)/%.o) Makefile
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

$(PLAIN)/tools/bslab/mount.o $(ASAN)/tools/bslab/mount.o: CFLAGS += $(FUSE_CFLAGS)

$(BUILD)/bslab: $(BSLAB_SRC:%.c=$(PLAIN)/%.o) $(PLAIN)/liblab.a $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LIBS) $(LIBS_FUSE)

# The fsx-style random I/O driver (tools/fsx.c; tests/test_mount.c runs it
# on a bslab mount and a tmpfs).
$(BUILD)/fsx: $(PLAIN)/tools/fsx.o
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^

$(ASAN)/fsx: $(ASAN)/tools/fsx.o
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^

$(ASAN)/bslab: $(BSLAB_SRC:%.c=$(ASAN)/%.o) $(ASAN)/liblab.a $(ASAN)/libbackstore.a
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(LIBS_FUSE)

$(AFL)/san/%.o: %.c
	@mkdir -p $(dir $@)
	AFL_QUIET=1 $(AFL_CC) $(BASE_CFLAGS) $(FUZZ_FLAGS) $(CFLAGS) -c $< -o $@

$(AFL)/cmplog/%.o: %.c
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(BASE_CFLAGS) -O1 $(CFLAGS) -c $< -o $@

# ---- fuzz targets: corpus replayers (make check) and AFL++ (make fuzz) ---
$(PLAIN)/fuzz/%_replay: $(PLAIN)/fuzz/%_fuzzer.o $(PLAIN)/fuzz/replay.o $(PLAIN)/liblab.a $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LIBS)

$(ASAN)/fuzz/%_replay: $(ASAN)/fuzz/%_fuzzer.o $(ASAN)/fuzz/replay.o $(ASAN)/liblab.a $(ASAN)/libbackstore.a
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# -fsanitize=fuzzer under an afl-clang wrapper links AFL++'s driver (a
# persistent-mode main() around LLVMFuzzerTestOneInput), not libFuzzer.
$(AFL)/bin/%_fuzzer: $(AFL)/san/fuzz/%_fuzzer.o $(LAB_SRC:%.c=$(AFL)/san/%.o) $(LIB_SRC:%.c=$(AFL)/san/%.o)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 $(AFL_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LIBS)

$(AFL)/bin/%_cmplog: $(AFL)/cmplog/fuzz/%_fuzzer.o $(LAB_SRC:%.c=$(AFL)/cmplog/%.o) $(LIB_SRC:%.c=$(AFL)/cmplog/%.o)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) -O1 -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- tests ---------------------------------------------------------------
$(PLAIN)/tests/%: $(PLAIN)/tests/%.o $(TEST_SUPPORT:%.c=$(PLAIN)/%.o) $(PLAIN)/liblab.a $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(ASAN)/tests/%: $(ASAN)/tests/%.o $(TEST_SUPPORT:%.c=$(ASAN)/%.o) $(ASAN)/liblab.a $(ASAN)/libbackstore.a
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

# volctl: the real-volume fixture from the shell (run-tests.sh reaps with it).
VOLCTL_SRC := tests/volctl.c tests/support/volume.c tests/support/volume_sys.c
$(PLAIN)/tests/volctl: $(VOLCTL_SRC:%.c=$(PLAIN)/%.o) $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LIBS)

tests: $(TEST_NAMES:%=$(PLAIN)/tests/%) $(TEST_NAMES:%=$(ASAN)/tests/%) $(BUILD)/bslab $(BUILD)/fsx $(ASAN)/bslab $(ASAN)/fsx \
       $(VOLCTL) \
       $(FUZZ_TARGETS:%=$(PLAIN)/fuzz/%_replay) $(FUZZ_TARGETS:%=$(ASAN)/fuzz/%_replay)

# Everything: the API reference (fails on an undocumented public symbol),
# every OS call of real/ through real/sys.c (and the check's own self-test),
# the package (exported symbols, man pages, the consumer example built
# against a DESTDIR install: scripts/check-package.sh), plain suites and
# corpus replays, the same sanitized (LSan included), valgrind leak run.
check: deps
	@scripts/check-sys-calls.sh && scripts/check-sys-calls.sh --self-test
	@$(MAKE) --no-print-directory docs tests lib
	@scripts/check-package.sh --build $(BUILD)
	@scripts/run-tests.sh --build $(BUILD) --corpora "$(FUZZ_TARGETS)" $(TEST_NAMES)

# The plain suites only, for the edit-compile loop.
quickcheck:
	@scripts/check-sys-calls.sh
	@$(MAKE) --no-print-directory $(TEST_NAMES:%=$(PLAIN)/tests/%) $(BUILD)/bslab $(BUILD)/fsx \
	  $(VOLCTL) $(FUZZ_TARGETS:%=$(PLAIN)/fuzz/%_replay)
	@scripts/run-tests.sh --build $(BUILD) --quick --corpora "$(FUZZ_TARGETS)" $(TEST_NAMES)

# The package checks alone (they are part of make check).
check-package: lib
	@scripts/check-package.sh --build $(BUILD)

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab
	$(BUILD)/bslab campaign $(RUN_ARGS)

campaign: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab $(VOLCTL)
	$(BUILD)/bslab campaign $(CAMPAIGN_ARGS) --jobs 2
	scripts/diff-volumes.sh $(BUILD) $(DIFF_ARGS)

$(BUILD)/sim_bench: $(PLAIN)/bench/sim_bench.o $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/threads_bench: $(PLAIN)/bench/threads_bench.o $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/overlay_bench: $(PLAIN)/bench/overlay_bench.o $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LIBS)

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab $(BUILD)/sim_bench $(BUILD)/threads_bench $(BUILD)/overlay_bench \
	  $(VOLCTL)
	@bench/run.sh $(BUILD)

# The regression gate (docs/bench.md): instruction counts of the in-process
# sim workloads against GATE_BASELINE (fails on a count > +5 %); with
# AB_BASE=DIR (a build of the baseline commit), real-volume timings A/B too.
# Results: $(BUILD)/bench-gate.json, the table in $(BUILD)/bench-gate.txt.
GATE_BASELINE ?= bench/baseline.json
AB_BASE       ?=
bench-gate: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab $(BUILD)/sim_bench $(VOLCTL)
	@bench/gate.py measure --build $(BUILD) --out $(BUILD)/bench-gate.json
	@bench/gate.py compare $(GATE_BASELINE) $(BUILD)/bench-gate.json --table $(BUILD)/bench-gate.txt
	@if [ -n "$(AB_BASE)" ]; then bench/gate.py ab --base $(AB_BASE) --cand $(BUILD) --out $(BUILD)/bench-ab.json; fi

# Rewrite bench/baseline.json from this tree (its diff shows in review).
bench-baseline: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab $(BUILD)/sim_bench
	@bench/gate.py baseline --build $(BUILD)

# AFL++ over every target (or FUZZ_TARGETS=...) for FUZZ_SECONDS each, from
# its committed corpus; fails if any crash or hang was found (docs/fuzzing.md).
FUZZ_BINS = $(FUZZ_TARGETS:%=$(AFL)/bin/%_fuzzer) $(FUZZ_TARGETS:%=$(AFL)/bin/%_cmplog)
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@scripts/fuzz.sh --build $(BUILD) --seconds $(FUZZ_SECONDS) --jobs $(JOBS) $(FUZZ_TARGETS)

# afl-cmin over each committed corpus plus what the last make fuzz found;
# rewrites corpora/<t>/ (crash-* regression inputs are always kept).
fuzz-cmin: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@scripts/fuzz.sh --build $(BUILD) --cmin $(FUZZ_TARGETS)

docs:
	@rm -rf $(BUILD)/docs && mkdir -p $(BUILD)
	@{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $(BUILD)/docs"; } | doxygen - && echo "docs: API reference in $(BUILD)/docs/html (every public symbol documented)"

# The library (static and shared), its public headers, backstore.pc, bslab
# and the man pages.  The lab (liblab.a, lab/*.h) is not installed: only
# bslab, built with it, is (docs/architecture.md).  PREFIX, LIBDIR,
# INCLUDEDIR, BINDIR, MANDIR and DESTDIR choose where (docs/install.md).
MAN1 := docs/bslab.1
MAN3 := $(sort $(wildcard docs/man/*.3))
PC_REQUIRES_PRIVATE := $(PLIST_PC)
PC_LIBS_PRIVATE     := -lm -lpthread $(LIBS_FIU)
install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/backstore $(DESTDIR)$(BINDIR) \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(PLAIN)/libbackstore.a $(DESTDIR)$(LIBDIR)/
ifneq ($(SHLIB),)
	install -m 644 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libbackstore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libbackstore.so
endif
	install -m 644 include/backstore.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/backstore/*.h $(DESTDIR)$(INCLUDEDIR)/backstore/
	install -m 755 $(BUILD)/bslab $(DESTDIR)$(BINDIR)/
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|; s|@REQUIRES_PRIVATE@|$(PC_REQUIRES_PRIVATE)|' \
	    -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' backstore.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/backstore.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/backstore.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libbackstore.a $(DESTDIR)$(LIBDIR)/libbackstore.so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libbackstore.so.$(VERSION) \
	      $(DESTDIR)$(INCLUDEDIR)/backstore.h $(DESTDIR)$(PKGCONFIGDIR)/backstore.pc \
	      $(DESTDIR)$(BINDIR)/bslab $(MAN1:docs/%=$(DESTDIR)$(MANDIR)/man1/%) \
	      $(MAN3:docs/man/%=$(DESTDIR)$(MANDIR)/man3/%) \
	      $(patsubst include/backstore/%,$(DESTDIR)$(INCLUDEDIR)/backstore/%,$(wildcard include/backstore/*.h))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/backstore 2>/dev/null

# The Debian packages (debian/): libbackstore0, libbackstore-dev and
# backstore-tools, built with dpkg-buildpackage from a copy of the tree in
# $(BUILD)/deb (so its output stays there), then linted (docs/install.md).
DEB_DIR := $(BUILD)/deb
deb:
	@scripts/deps.sh --package
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/backstore-$(VERSION)
	tar --exclude=./.git --exclude=./build --exclude='./$(BUILD)' -cf - . | tar -C $(DEB_DIR)/backstore-$(VERSION) -xf -
	cd $(DEB_DIR)/backstore-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning --info $(DEB_DIR)/backstore_$(VERSION)_*.changes
	@scripts/check-deb.sh $(DEB_DIR)

# The source tarball $(BUILD)/backstore-VERSION.tar.gz, reproducible: the
# committed files only, names sorted, every mtime the last commit's (or
# SOURCE_DATE_EPOCH), owner 0, gzip without a timestamp.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
dist:
	@test -n "$(SOURCE_DATE_EPOCH)" || { echo "dist: not a git checkout; set SOURCE_DATE_EPOCH" >&2; exit 2; }
	@mkdir -p $(BUILD)
	git ls-files -z | LC_ALL=C sort -z | tar --null -T - --transform 's|^|backstore-$(VERSION)/|' \
	  --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner \
	  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf - | gzip -9n \
	  > $(BUILD)/backstore-$(VERSION).tar.gz
	@sha256sum $(BUILD)/backstore-$(VERSION).tar.gz

clean:
	rm -rf $(BUILD)

# Keep test objects; make would otherwise delete them as intermediates.
.SECONDARY:

# Header dependencies, written by the compiler (-MMD) beside each object.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
