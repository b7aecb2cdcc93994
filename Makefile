# backstore — one flat Makefile.  `make run` and `make check` are all a new
# user types; both install what they need through scripts/deps.sh.

CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build
# Work of `make run` / `make campaign`; override on the command line.
RUN_ARGS      ?= --profile apfs --seeds 16 --ops 2000
CAMPAIGN_ARGS ?= --profile apfs --seeds 400 --ops 5000

UNAME_S := $(shell uname -s)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude -I. -g $(WARN)
OPT      ?= -O2
CFLAGS   ?=
LDFLAGS  ?=
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# The library: core, sim, faults, and the platform half of real/ chosen here.
LIB_SRC := $(sort $(wildcard src/*.c sim/*.c faults/*.c real/parse_*.c))
ifeq ($(UNAME_S),Darwin)
LIB_SRC += $(wildcard real/darwin.c)
else
LIB_SRC += $(wildcard real/linux.c)
endif
LIB_HDR := $(wildcard include/*.h include/backstore/*.h src/*.h sim/*.h faults/*.h real/*.h)

BSLAB_SRC   := $(sort $(wildcard tools/bslab/*.c))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
TEST_SRC    := $(sort $(wildcard tests/test_*.c))
TEST_NAMES  := $(basename $(notdir $(TEST_SRC)))
TEST_LIBS   := -lcmocka -lm -lpthread

# Two flavours of everything: plain (-O2) and sanitized (ASan+UBSan).
PLAIN := $(BUILD)/plain
ASAN  := $(BUILD)/asan

.PHONY: all run check quickcheck fuzz campaign bench install clean deps tests docs

all: $(PLAIN)/libbackstore.a $(BUILD)/bslab

deps:
	@scripts/deps.sh

# ---- objects -------------------------------------------------------------
$(PLAIN)/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(CFLAGS) -c $< -o $@

$(ASAN)/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -c $< -o $@

$(PLAIN)/libbackstore.a: $(LIB_SRC:%.c=$(PLAIN)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(ASAN)/libbackstore.a: $(LIB_SRC:%.c=$(ASAN)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bslab: $(BSLAB_SRC:%.c=$(PLAIN)/%.o) $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ -lm -lpthread

$(ASAN)/bslab: $(BSLAB_SRC:%.c=$(ASAN)/%.o) $(ASAN)/libbackstore.a
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ -lm -lpthread

# ---- tests ---------------------------------------------------------------
$(PLAIN)/tests/%: $(PLAIN)/tests/%.o $(TEST_SUPPORT:%.c=$(PLAIN)/%.o) $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(ASAN)/tests/%: $(ASAN)/tests/%.o $(TEST_SUPPORT:%.c=$(ASAN)/%.o) $(ASAN)/libbackstore.a
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

tests: $(TEST_NAMES:%=$(PLAIN)/tests/%) $(TEST_NAMES:%=$(ASAN)/tests/%) $(BUILD)/bslab $(ASAN)/bslab

# Everything: the API reference (fails on an undocumented public symbol),
# plain suites, sanitized suites (LSan included), valgrind leak run.
check: deps
	@$(MAKE) --no-print-directory docs tests
	@scripts/run-tests.sh --build $(BUILD) $(TEST_NAMES)

# The plain suites only, for the edit-compile loop.
quickcheck:
	@$(MAKE) --no-print-directory $(TEST_NAMES:%=$(PLAIN)/tests/%) $(BUILD)/bslab
	@scripts/run-tests.sh --build $(BUILD) --quick $(TEST_NAMES)

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab
	$(BUILD)/bslab campaign $(RUN_ARGS)

campaign: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab
	$(BUILD)/bslab campaign $(CAMPAIGN_ARGS) --jobs 2

$(BUILD)/sim_bench: $(PLAIN)/bench/sim_bench.o $(PLAIN)/libbackstore.a
	$(CC) $(OPT) $(LDFLAGS) -o $@ $^ -lm -lpthread

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/bslab $(BUILD)/sim_bench
	@bench/run.sh $(BUILD)

fuzz:
	@echo "make fuzz: no fuzz harnesses yet (tracked by the lab issue)"; exit 2

docs:
	@rm -rf $(BUILD)/docs
	@{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $(BUILD)/docs"; } | doxygen - && echo "docs: API reference in $(BUILD)/docs/html (every public symbol documented)"

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/backstore \
	           $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(PLAIN)/libbackstore.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/backstore.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/backstore/*.h $(DESTDIR)$(PREFIX)/include/backstore/
	install -m 755 $(BUILD)/bslab $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/bslab.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf $(BUILD)

# Keep test objects; make would otherwise delete them as intermediates.
.SECONDARY:
