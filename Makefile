# qlens: plain Makefile (pkg-config, -MMD header dependencies).
#
#   make            build ./qlens                 make test    unit + CLI + TUI tests
#   make run        build and open the default model
#   make asan       the same tests under ASan + UBSan (build-asan/)
#   make bench      benchmarks (ratios against a baseline in the same run)
#   make fuzz       libFuzzer harnesses (clang, build-fuzz/), FUZZ_S seconds each
#   make valgrind   a subset of commands under valgrind (build-vg/, no AVX-512)
#   make install    PREFIX=/usr/local DESTDIR=    make clean
#
# `make test`, `make run` and `make asan` first run scripts/deps.sh, which
# installs missing Debian packages (as root) and is a no-op otherwise.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
OPT     ?= -O2 -march=native
SAN     ?=

PKGS      := ncursesw openblas libcjson gsl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) check 2>/dev/null)
# GSL's pkg-config names its own reference CBLAS; OpenBLAS provides cblas_*
# (much faster), so drop -lgslcblas and let OpenBLAS serve GSL too.
PKG_LIBS  := $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS) 2>/dev/null))
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif
# libFuzzer build (clang): coverage instrumentation everywhere, the fuzzer's
# main() only in the harness binaries.
ifeq ($(SAN),fuzz)
OPT := -O1 -g -fno-omit-frame-pointer -march=native -fsanitize=fuzzer-no-link,address,undefined \
       -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif

CFLAGS  ?= -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Wno-unused-parameter -MMD -MP -I. $(PKG_CFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -lm -pthread
LDFLAGS += $(LDSAN)

# Layers, lowest first.  The library holds everything but main().
ANALYSIS_SRC := $(wildcard analysis/*.c)
QUANT_SRC    := $(wildcard quant/*.c)
CORE_SRC     := $(filter-out src/main.c,$(wildcard src/*.c))
CLI_SRC      := $(wildcard cli/*.c)
UI_SRC       := $(wildcard ui/*.c)
LIB_SRC      := $(ANALYSIS_SRC) $(QUANT_SRC) $(CORE_SRC) $(CLI_SRC) $(UI_SRC)
LIB_OBJ      := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB          := $(BUILD)/libqlens.a

TEST_SRC   := $(wildcard tests/check_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTLIB_SRC := $(wildcard tests/testutil*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TOOL_SRC   := $(wildcard tests/tool_*.c)
TOOL_BIN   := $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)
# Fuzz harnesses: libFuzzer binaries in $(BUILD)/fuzz/ (make fuzz), and the
# same entry points linked with a plain main() that replays the regression
# inputs (tests/fuzz/regress/, run by make test and make asan).
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN   := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay_%)
FUZZ_S     ?= 20

QLENS := $(BUILD)/qlens

# Keep test/bench objects: they are not throw-away intermediates.
.SECONDARY:

.PHONY: all deps run test test-run asan bench bench-run install uninstall clean check-layers tests-build \
        fuzz fuzz-build valgrind

all: $(QLENS) qlens

qlens: $(QLENS)
	ln -sf $(QLENS) qlens

$(QLENS): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/check_%: $(BUILD)/tests/check_%.o $(TESTLIB_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/tool_%: $(BUILD)/tests/tool_%.o $(TESTLIB_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(BUILD)/bench/bench_%: $(BUILD)/bench/bench_%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./qlens

tests-build: $(QLENS) $(TEST_BIN) $(TOOL_BIN) $(REPLAY_BIN)

test: deps
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory tests-build
	@sh tests/run.sh $(BUILD)

test-run: tests-build
	@sh tests/run.sh $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 tests-build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  QLENS_SANITIZED=1 sh tests/run.sh build-asan

# Every harness for FUZZ_S seconds (default 20); fails on a crash.  Seeds
# come from the real files (tests/fuzz/seeds.sh) into build-fuzz/corpus/.
fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory all $(BUILD)/tests/tool_genmodel
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SAN=fuzz fuzz-build
	@sh tests/fuzz/seeds.sh build-fuzz/corpus $(BUILD)
	@sh tests/fuzz/run.sh build-fuzz $(FUZZ_S)

fuzz-build: $(FUZZ_BIN)

# valgrind cannot decode AVX-512: a build of its own for x86-64-v2, where the
# AVX-512 kernels (#if __AVX512F__) compile out and their fallbacks run.
valgrind:
	@sh scripts/deps.sh valgrind
	@$(MAKE) --no-print-directory BUILD=build-vg OPT='-O1 -g -march=x86-64-v2' build-vg/qlens
	@sh tests/valgrind.sh build-vg

bench: deps
	@$(MAKE) --no-print-directory $(QLENS) $(BENCH_BIN) $(TOOL_BIN)
	@sh bench/run.sh $(BUILD)

# The stories260K quantization table of the README (qlens sweep, a few minutes).
.PHONY: results-table
results-table: $(QLENS)
	@BUILD=$(BUILD) sh scripts/results-table.sh

# The layer rule of ARCHITECTURE.md: numerics and the core never touch the
# terminal; numerics never print or exit.
check-layers:
	@sh scripts/check-layers.sh

# ggml type decoders: -O3 lets GCC vectorize the per-block loops (the
# float operations stay the same IEEE ones: -std=c11 keeps contraction off,
# so results remain bit-identical to llama.cpp; check_ggml_types checks).
ifneq ($(SAN),1)
$(BUILD)/quant/ggml_types.o: CFLAGS += -O3
endif

# qlens finds its bundled data in $(PREFIX)/share/qlens as a last resort.
$(BUILD)/src/paths.o: CFLAGS += -DQLENS_PREFIX='"$(PREFIX)"'

install: $(QLENS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/qlens
	install -m 755 $(QLENS) $(DESTDIR)$(PREFIX)/bin/qlens
	cp -R assets/. $(DESTDIR)$(PREFIX)/share/qlens/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/qlens
	rm -rf $(DESTDIR)$(PREFIX)/share/qlens

clean:
	rm -rf build build-asan build-fuzz build-vg qlens

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
