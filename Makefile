# hl: build, test, install.  See README.md.
#
#   make            lib/libhl.a and one binary per tools/hl-*.c
#   make test       lib/'s layout rules and the bats suite; ends with
#                   "N passed, N failed"
#   make asan       the same binaries with ASan+UBSan, in build/asan/
#   make test-asan  the bats suite over those
#   make install    PREFIX=/usr/local: binaries and docs
#   make clean

PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

CC      ?= cc
PKGS     = libcurl yaml-0.1 libgit2 libssl libcrypto
CFLAGS  ?= -O2 -g
HL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
           -Wno-unused-parameter -Ilib -I$(B) \
           $(shell pkg-config --cflags $(PKGS))
ifneq ($(CI),)
HL_CFLAGS += -Werror
endif
LDLIBS   = $(shell pkg-config --libs $(PKGS)) -ljq

B        = build
LIB_SRC  = $(wildcard lib/*/*.c)
LIB_HDR  = $(wildcard lib/*/*.h)
TOOL_SRC = $(wildcard tools/hl-*.c)
TOOLS    = $(patsubst tools/%.c,bin/%,$(TOOL_SRC))
# Test drivers over lib/ (tests/c/): built for make test, not installed.
TEST_SRC = $(wildcard tests/c/*.c)
TEST_BIN = $(patsubst tests/c/%.c,build/tests/%,$(TEST_SRC))
DOCS     = $(wildcard docs/*.md)

all: $(TOOLS)

# The version lives in one generated header, rewritten only when it changes,
# so a new commit rebuilds what prints it and nothing else.
HASH := \#
VERSION_H := $(shell mkdir -p $(B) && v='$(HASH)define HL_VERSION "$(VERSION)"' && \
	{ echo "$$v" | cmp -s - $(B)/version.h || echo "$$v" > $(B)/version.h; } && \
	echo $(B)/version.h)
$(patsubst %.c,$(B)/%.o,$(shell grep -l '"version.h"' $(LIB_SRC) $(TOOL_SRC))): $(VERSION_H)

# hl-deploy's host side, a Python file, as a C string (lib/deploy/agent.c).
$(B)/deploy_agent.h: lib/deploy/agent.py
	@mkdir -p $(B)
	sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(B)/lib/deploy/agent.o: $(B)/deploy_agent.h
# hl-capture's checksums on a host, the same way (lib/capture/sums.c).
$(B)/capture_sums.h: lib/capture/sums.py
	@mkdir -p $(B)
	sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(B)/lib/capture/sums.o: $(B)/capture_sums.h

$(B)/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HL_CFLAGS) -c -o $@ $<

lib/libhl.a: $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
	$(AR) rcs $@ $^

bin/%: $(B)/tools/%.o lib/libhl.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< lib/libhl.a $(LDLIBS)

build/tests/%: $(B)/tests/c/%.o lib/libhl.a
	@mkdir -p build/tests
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< lib/libhl.a $(LDLIBS)

# The sanitizer build lives in its own tree so it never mixes objects.
asan:
	$(MAKE) B=build/asan-obj CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' \
		LDFLAGS='-fsanitize=address,undefined' bin-asan

bin-asan: $(patsubst %.c,$(B)/%.o,$(LIB_SRC) $(TOOL_SRC) $(TEST_SRC))
	@mkdir -p build/asan
	for t in $(notdir $(basename $(TOOL_SRC))); do \
		$(CC) $(CFLAGS) $(LDFLAGS) -o build/asan/$$t $(B)/tools/$$t.o \
			$(patsubst %.c,$(B)/%.o,$(LIB_SRC)) $(LDLIBS) || exit 1; done
	for t in $(notdir $(basename $(TEST_SRC))); do \
		$(CC) $(CFLAGS) $(LDFLAGS) -o build/asan/$$t $(B)/tests/c/$$t.o \
			$(patsubst %.c,$(B)/%.o,$(LIB_SRC)) $(LDLIBS) || exit 1; done

test: all $(TEST_BIN)
	tests/run

# The C tools' tests over the sanitizer build: any ASan, LSan or UBSan
# report fails, on every path.  A report makes the tool exit 86, which no
# test expects (a leak on a refusal would otherwise exit 1, as the refusal
# does), and ASan's reports land in build/asan-reports/, which tests/run
# checks at the end.  (The simulator is Python: its tests need no second
# run.)
ASAN_TESTS = $(filter-out tests/bats/hl-sim%.bats,$(wildcard tests/bats/hl-*.bats))
SAN_REPORTS = $(CURDIR)/build/asan-reports
test-asan: asan
	rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	HL_TEST_BIN=$(CURDIR)/build/asan HL_SANITIZER_REPORTS=$(SAN_REPORTS) \
	ASAN_OPTIONS=detect_leaks=1:exitcode=86:log_path=$(SAN_REPORTS)/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86 \
	tests/run $(ASAN_TESTS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/hl
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(DOCS) README.md $(DESTDIR)$(PREFIX)/share/doc/hl/

clean:
	rm -rf $(B) bin lib/libhl.a

.PHONY: all asan bin-asan test test-asan install clean
.SECONDARY:
