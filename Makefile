# charpipe: character-level LSTM text generation as a pipeline of Unix filters.
#
#   make            build the tools into bin/
#   make test       installs what the tests use when missing (make test-deps), then unit + CLI
#                   tests, then the same suite under ASan+UBSan
#   make test-seeds N=200   every numeric check over N seeds: the worst ratio of error to bound
#   make bench      benchmarks (read ../shared/data when present; install the peers when missing)
#   make MPI=1      train built with mpicc for training across processes (Open MPI), with
#                   everything else, into build/mpi/bin; make mpi builds that train alone
#   make wasm       the web page and the generator built to WebAssembly, into build/web;
#                   make web-serve serves that folder on http://127.0.0.1:8000/
#   make install    PREFIX=/usr/local: the tools, man pages, the shared library libcharpipe.so.1
#                   and its header charpipe.h (pkg-config charpipe), libcharpipe.a and lib/'s
#                   headers in include/charpipe/ (pkg-config charpipe-static), and the bash
#                   completion (share/bash-completion/completions/, where bash-completion looks)
#
# Every tools/NAME.c is one tool (but tools/cli.c and tools/output.c: the helpers and the output
# rules linked into every tool), every
# tests/test_*.c one test program (linked with tests/lstm_ref.c, the reference LSTM), every
# lib/*.c part of libcharpipe.a and of libcharpipe.so.1 (built once, position-independent, every
# symbol hidden but lib/charpipe.h's cp_ interface: a static link sees them all, the shared
# library exports cp_ alone). Files named *_avx2.c / *_avx512.c / *_avx512bf16.c get their
# instruction-set flags here and nowhere else; the rest of the code is built for the baseline
# of the target.

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
PREFIX  ?= /usr/local
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Compiler command lines are not echoed (warnings and errors are): make V=1 shows them.
Q       := $(if $(V),,@)

# msgpack-c 6.x renamed its pkg-config module to msgpack-c; 4.x (Debian bookworm) calls it msgpack.
MSGPACK_PC   := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
MSGPACK_CF   := $(shell pkg-config --cflags $(MSGPACK_PC) 2>/dev/null)
MSGPACK_LIBS := $(shell pkg-config --libs $(MSGPACK_PC) 2>/dev/null || echo -lmsgpackc)

# CPPFLAGS and LDFLAGS are the user's (Debian's dpkg-buildflags sets them with CFLAGS).
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -Wshadow -Ilib $(MSGPACK_CF) -MMD -MP $(CPPFLAGS) $(CFLAGS) $(SAN) $(MPI_CF)
LDLIBS     = $(MSGPACK_LIBS) -lz -lm -lpthread

# MPI=1: the tools built with mpicc, train with tools/train_mpi.c (-DCHARPIPE_MPI), into
# build/mpi. The library never depends on MPI.
ifeq ($(MPI),1)
CC     := mpicc
O      ?= build/mpi
MPI_CF := -DCHARPIPE_MPI
endif
# make check runs tests/test_mpi.sh with build/mpi/bin/train when mpicc and mpirun are here
# (other builds, as check-san's, skip it: that train is not theirs).
HAVE_MPI := $(shell command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 && echo 1)

# Output directories: the sanitizer build (O=build/san) keeps its own objects and tools.
O   ?= build
BIN ?= $(if $(filter build,$(O)),bin,$(O)/bin)

X86 := $(if $(filter x86_64% amd64%,$(shell $(CC) -dumpmachine)),1,)
ISA_avx2   = $(if $(X86),-mavx2 -mfma -mf16c)
ISA_avx512 = $(if $(X86),-mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma -mf16c -mprefer-vector-width=512)
ISA_avx512bf16 = $(if $(X86),$(ISA_avx512) -mavx512bf16)

LIB_SRC   := $(wildcard lib/*.c)
TOOL_SRC  := $(filter-out tools/cli.c tools/output.c tools/train_mpi.c,$(wildcard tools/*.c))
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/%.o)
TOOLS     := $(TOOL_SRC:tools/%.c=$(BIN)/%)
TESTS     := $(TEST_SRC:tests/%.c=$(O)/tests/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(O)/bench/%)
LIBA      := $(O)/libcharpipe.a
VERSION   := 0.2
# The shared library: SONAME libcharpipe.so.$(SO_MAJOR) (lib/charpipe.h's CP_VERSION_MAJOR),
# the file libcharpipe.so.$(SO_MAJOR).$(SO_MINOR), and in $(O) the links a build links against.
SO_MAJOR  := 1
SO_MINOR  := 0
LIBSO     := $(O)/libcharpipe.so.$(SO_MAJOR).$(SO_MINOR)
# The installed interface of libcharpipe.a (kern_impl.h is internal to the kernels).
PUBLIC_H  := $(addprefix lib/,ts.h kern.h lstm.h model.h rng.h par.h utf8.h codec.h generate.h sampling.h frame.h dataset.h optim.h train.h run.h safetensors.h)
CLI_OBJ   := $(O)/tools/cli.o $(O)/tools/output.o
REF_OBJ   := $(O)/tests/lstm_ref.o

# Every object depends on the Makefile and on the flags it was built with ($(O)/flags, rewritten
# when they change): a build/ left by an older checkout, or made with other CFLAGS, is rebuilt,
# never linked with objects compiled for another rule (as a shared library of non-PIC objects).
BUILD_FLAGS := $(CC) $(ALL_CFLAGS) $(LDFLAGS) $(LDLIBS)
ifneq ($(BUILD_FLAGS),$(file < $(O)/flags))
$(shell mkdir -p $(O))
$(file > $(O)/flags,$(BUILD_FLAGS))
endif
OBJ_DEPS := Makefile $(O)/flags

.PHONY: all tools tests test check check-san test-seeds bench deps test-deps bench-deps install uninstall clean man demo fuzz mpi \
        wasm wasm-deps wasm-toolchain wasm-maybe wasm-tests web-serve
.DELETE_ON_ERROR:
.SECONDARY:

all: tools $(LIBSO)
tools: $(TOOLS)
tests: $(TESTS)

$(O)/%.o: %.c $(OBJ_DEPS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/lib/%_avx2.o: lib/%_avx2.c $(OBJ_DEPS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(ISA_avx2) -c -o $@ $<

$(O)/lib/%_avx512.o: lib/%_avx512.c $(OBJ_DEPS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(ISA_avx512) -c -o $@ $<

$(O)/lib/%_avx512bf16.o: lib/%_avx512bf16.c $(OBJ_DEPS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(ISA_avx512bf16) -c -o $@ $<

# test_bf16 also runs the AVX512_BF16 set's code built for AVX2 (tests/kern_w16_avx2.c; its
# 64-byte vectors never cross a call boundary that another build could see: -Wno-psabi)
$(O)/tests/%_avx2.o: tests/%_avx2.c $(OBJ_DEPS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(ISA_avx2) -Wno-psabi -c -o $@ $<
$(O)/tests/test_bf16: $(O)/tests/kern_w16_avx2.o

# Adam's square root needs no errno (v >= 0): without the call's error path the loop vectorises
$(O)/lib/optim.o $(O)/lib/dynamic.o: ALL_CFLAGS += -fno-math-errno
$(LIB_OBJ): ALL_CFLAGS += -fPIC -fvisibility=hidden
$(O)/lib/charpipe.o: ALL_CFLAGS += -DCHARPIPE_VERSION='"$(VERSION)"'

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

# lib/charpipe.map exports the cp_ interface alone, versioned CHARPIPE_1.
$(LIBSO): $(LIB_OBJ) lib/charpipe.map
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libcharpipe.so.$(SO_MAJOR) -Wl,--version-script=lib/charpipe.map \
	    -Wl,-z,defs -o $@ $(LIB_OBJ) $(LDLIBS)
	$(Q)ln -sf $(notdir $@) $(O)/libcharpipe.so.$(SO_MAJOR) && ln -sf libcharpipe.so.$(SO_MAJOR) $(O)/libcharpipe.so

$(BIN)/%: $(O)/tools/%.o $(CLI_OBJ) $(LIBA)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --version prints the Makefile's VERSION
$(O)/tools/cli.o: ALL_CFLAGS += -DCHARPIPE_VERSION='"$(VERSION)"'

ifeq ($(MPI),1)
$(BIN)/train: $(O)/tools/train_mpi.o
endif

# The MPI-enabled train alone.
mpi:
	@$(MAKE) --no-print-directory MPI=1 O=build/mpi BIN=build/mpi/bin build/mpi/bin/train

$(O)/tests/%: $(O)/tests/%.o $(REF_OBJ) $(LIBA)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bench/%: $(O)/bench/%.o $(LIBA)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# test_wasm_io: the WebAssembly build's own gzip decoder and MessagePack reader and writer
# against Debian's zlib and libmsgpack-c, both linked in: tests/wasm_own.c builds ours with
# every function renamed own_NAME, and must define nothing else (a name it missed would take
# the place of Debian's in the test).
$(O)/tests/test_wasm_io: $(O)/tests/wasm_own.o
$(O)/tests/wasm_own.o: tests/wasm_own.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<
	$(Q)nm -g --defined-only $@ | awk '$$3 !~ /^own_/ && $$2 ~ /^[A-Z]$$/ && $$3 !~ /^_/ { print "$@ defines " $$3 " (not renamed own_)"; bad = 1 } END { exit bad }' >&2

# The test suite: C unit tests and shell CLI tests, one summary line at the end.
MPI_CHECK := $(and $(HAVE_MPI),$(filter build,$(O)),$(if $(filter 1,$(MPI)),,1))
check: tools tests $(LIBSO) $(if $(MPI_CHECK),mpi) $(if $(filter build,$(O)),wasm-maybe)
	@MPI_TRAIN=$(if $(MPI_CHECK),$(abspath build/mpi/bin/train),$(if $(HAVE_MPI),other-build)) tests/run.sh $(O) $(BIN)

# The same suite, built with AddressSanitizer and UndefinedBehaviorSanitizer.
check-san:
	@$(MAKE) --no-print-directory O=build/san OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check

test: test-deps
	@rm -f build/test-counts build/san/test-counts
	@echo "make test: the suite, then the same suite built with ASan+UBSan (a few minutes)"
	@$(MAKE) --no-print-directory check; a=$$?; \
	 $(MAKE) --no-print-directory check-san; b=$$?; \
	 cat build/test-counts build/san/test-counts 2>/dev/null | awk '{ p += $$1; f += $$2; s += $$3 } \
	   END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s }'; \
	 [ $$a = 0 ] && [ $$b = 0 ]

# The seed sweep (not part of make test; about 30 minutes on 2 cores for N=200): every numeric
# check of the C tests rerun with CHARPIPE_TEST_SEED = 0 .. N-1, in this build and in build/o1
# (-O1 without the sanitizers: the sanitizer build's arithmetic, no FMA contraction), and the
# export against numpy and torch over the same seeds; prints the worst ratio of error to bound
# per check (tests/seeds.sh).
N ?= 200
O1_TESTS := $(addprefix build/o1/tests/,test_kern test_lstm test_charrnn)
test-seeds: tools tests
	@$(MAKE) --no-print-directory O=build/o1 OPT=-O1 $(O1_TESTS)
	@tests/seeds.sh $(N) $(O) build/o1

# Debian packages, installed when missing (sudo when not root): the build's (make deps, make
# demo), the tests' (make test-deps, run by make test: the independent Python reference, Open
# MPI for the MPI tests, PyTorch for the export checks, valgrind, gnuplot, man and
# bash-completion for the pipeline and install checks, the WebAssembly toolchain and Chromium
# for the web page's) and the benchmarks' peers (make bench: PyTorch, oneDNN; the page's
# toolchain and Chromium).
DEPS       = build-essential pkg-config zlib1g-dev libmsgpack-dev
TEST_DEPS  = $(DEPS) python3 python3-msgpack python3-numpy openmpi-bin libopenmpi-dev \
             python3-torch valgrind gnuplot-nox man-db bash-completion $(WASM_DEPS) chromium
BENCH_DEPS = $(DEPS) python3 python3-torch libopenblas0-openmp libdnnl-dev $(WASM_DEPS) chromium
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)
# $(call install_missing,PACKAGES): apt-get install those not installed; a failure (no network,
# no sudo) is said in one line and is not an error: what needs them then SKIPs and says why.
install_missing = missing=; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	      --no-install-recommends $$missing >/dev/null; } || \
	  echo "make: could not install$$missing (the checks that need them will be skipped)"; fi
deps:
	@$(call install_missing,$(DEPS))
# (node and npm: Debian's nodejs and npm where none is installed: the WebAssembly unit tests run
# under node, the browser test and benchmark drive Chromium with playwright-core, which
# tests/web/playwright.sh installs from npm into build/npm)
NODE_DEPS = $(if $(shell command -v node 2>/dev/null),,nodejs) $(if $(shell command -v npm 2>/dev/null),,npm)
test-deps:
	@$(call install_missing,$(TEST_DEPS) $(NODE_DEPS))
bench-deps:
	@$(call install_missing,$(BENCH_DEPS) $(NODE_DEPS))

# The quick start: what is missing, the build, then a small model trained on a text every
# Debian system has, and a sample from it (about a minute). gnuplot-nox draws the loss plot.
demo: DEPS += gnuplot-nox
demo: deps
	@$(MAKE) -s --no-print-directory tools
	@$(MAKE) -s --no-print-directory -C pipelines demo

# Fuzzing (libFuzzer, clang): the stream reader, the UTF-8 decoder and the model reader, each for
# FUZZ_SECONDS, from a seed corpus the tools make in build/fuzz/seeds; findings land in build/fuzz/.
# Keep a crashing input as tests/fuzz/regress/ts-NAME, utf8-NAME or model-NAME (replayed by make check).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS    = -std=gnu11 -g -O1 -Ilib $(MSGPACK_CF) -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer
build/fuzz/fuzz_ts: tests/fuzz/fuzz_ts.c lib/ts.c lib/ts.h lib/utf8.c lib/utf8.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_ts.c lib/ts.c lib/utf8.c $(LDLIBS)
build/fuzz/fuzz_utf8: tests/fuzz/fuzz_utf8.c lib/utf8.c lib/utf8.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_utf8.c lib/utf8.c
# (the kernels come from the library as gcc built it: clang 14 lacks __builtin_cpu_supports("f16c"))
FUZZ_MODEL_SRC = lib/model.c lib/ts.c lib/frame.c lib/lstm.c lib/utf8.c lib/util.c lib/optim.c lib/rng.c
build/fuzz/fuzz_model: tests/fuzz/fuzz_model.c $(FUZZ_MODEL_SRC) $(wildcard lib/*.h) $(LIBA)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_model.c $(FUZZ_MODEL_SRC) $(LIBA) $(LDLIBS)
fuzz: tools build/fuzz/fuzz_ts build/fuzz/fuzz_utf8 build/fuzz/fuzz_model
	@tests/fuzz/seeds.sh $(BIN) build/fuzz/seeds
	@for h in ts utf8 model; do mkdir -p build/fuzz/corpus-$$h; echo "fuzz_$$h: $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	    -max_len=$$(case $$h in ts) echo 65536;; model) echo 262144;; *) echo 64;; esac) -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/$$h- build/fuzz/corpus-$$h build/fuzz/seeds/$$h \
	    tests/fuzz/regress 2>build/fuzz/$$h.log || { tail -40 build/fuzz/$$h.log; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' build/fuzz/$$h.log; done

bench: bench-deps tools $(BENCHES)
	@$(MAKE) --no-print-directory wasm-maybe
	@bench/run.sh $(O) $(BIN)

# The web page (web/) and the library's model reader and generator (web/charpipe_web.c over
# lib/) built to WebAssembly, into build/web: serve that folder as it is (make web-serve). The
# toolchain is Debian's clang, lld, wasi-libc and compiler-rt for wasm32 (make wasm-deps).
# Debian's zlib and msgpack-c are built for this machine only: lib/ts.c is compiled against
# charpipe's own gzip decoder and MessagePack reader and writer instead (web/wasm/inflate.c,
# msgpack.c and their zlib.h, msgpack.h: the calls lib/ uses, written from RFC 1950-1952 and
# the MessagePack spec; the deflate calls fail, zlib_deflate.c), so no third-party code is
# vendored, and the .wasm stays small. tests/test_wasm_io.c checks them against Debian's.
# Two builds: charpipe-simd.wasm (-msimd128: lib/kern_wasm.c's kernel set simd128, and the
# scalar set) and charpipe.wasm (the scalar set alone, for browsers without SIMD).
WASM_CC   ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null) clang)
WASM_DEPS  = clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
WEB       := build/web
WASM_O    := build/wasm
WASM_LIB  := model ts frame utf8 util lstm optim rng codec generate sampling kern kern_scalar kern_wasm
WASM_CORE := $(WASM_LIB:%=lib/%.c) web/wasm/inflate.c web/wasm/msgpack.c web/wasm/zlib_deflate.c
WASM_OWN  := $(WASM_CORE) web/charpipe_web.c
WASM_FLAGS = --target=wasm32-wasi -O2 -g0 -std=gnu11 -Ilib -Iweb/wasm -MMD -MP
WEB_FILES := $(addprefix $(WEB)/,index.html app.js worker.js charpipe.wasm charpipe-simd.wasm)
# C unit tests built the same way, run by tests/test_wasm.sh under node's WASI: the kernels
# (both builds: simd128 and scalar against the double-precision reference) and the codec
WASM_TESTS := $(WASM_O)/tests/test_kern.wasm $(WASM_O)/tests/test_kern-simd.wasm $(WASM_O)/tests/test_codec.wasm
# a program that links: the compiler, wasm-ld, wasi-libc and compiler-rt are all here
WASM_PROBE = printf '\043include <stdio.h>\nint main(void) { return 0; }\n' | \
             $(WASM_CC) --target=wasm32-wasi -x c - -o /dev/null >/dev/null 2>&1

wasm: wasm-toolchain $(WEB_FILES)
	@ls -l $(WEB)/*.wasm | awk '{ printf "%s: %d bytes\n", $$NF, $$5 }'
wasm-toolchain:
	@$(WASM_PROBE) || { echo "make wasm: no WebAssembly toolchain ($(WASM_CC) --target=wasm32-wasi cannot link); make wasm-deps installs it: apt-get install $(WASM_DEPS)" >&2; exit 1; }
wasm-deps:
	@$(call install_missing,$(WASM_DEPS))
# (make check builds them when the toolchain is here; the tests that need them say why they
# skip when not)
wasm-maybe:
	@if $(WASM_PROBE); then $(MAKE) --no-print-directory wasm wasm-tests >/dev/null; fi
wasm-tests: wasm-toolchain $(WASM_TESTS)

# warnings: the project's as for the native build (a test's x86-only check leaves a variable
# unused here)
wasm_warn = -Wall -Wextra -Wshadow $(if $(filter tests/%,$(1)),-Wno-unused-variable)
$(WASM_O)/scalar/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(WASM_CC) $(WASM_FLAGS) $(call wasm_warn,$<) -c -o $@ $<
$(WASM_O)/simd/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(WASM_CC) $(WASM_FLAGS) -msimd128 $(call wasm_warn,$<) -c -o $@ $<
# a reactor (a library with no main: the worker calls _initialize, then cpw_*)
$(WEB)/charpipe.wasm: $(patsubst %.c,$(WASM_O)/scalar/%.o,$(WASM_OWN))
	@mkdir -p $(@D)
	$(Q)$(WASM_CC) --target=wasm32-wasi -mexec-model=reactor -Wl,--gc-sections -Wl,--strip-all -o $@ $^ -lm
$(WEB)/charpipe-simd.wasm: $(patsubst %.c,$(WASM_O)/simd/%.o,$(WASM_OWN))
	@mkdir -p $(@D)
	$(Q)$(WASM_CC) --target=wasm32-wasi -mexec-model=reactor -Wl,--gc-sections -Wl,--strip-all -o $@ $^ -lm
$(WEB)/%: web/%
	@mkdir -p $(@D)
	$(Q)cp $< $@
WASM_LINK_TEST = $(Q)$(WASM_CC) --target=wasm32-wasi -Wl,--gc-sections -o $@ $^ -lm
$(WASM_O)/tests/%.wasm: $(WASM_O)/scalar/tests/%.o $(WASM_O)/scalar/tests/lstm_ref.o \
                        $(patsubst %.c,$(WASM_O)/scalar/%.o,$(WASM_CORE))
	@mkdir -p $(@D)
	$(WASM_LINK_TEST)
$(WASM_O)/tests/%-simd.wasm: $(WASM_O)/simd/tests/%.o $(WASM_O)/simd/tests/lstm_ref.o \
                             $(patsubst %.c,$(WASM_O)/simd/%.o,$(WASM_CORE))
	@mkdir -p $(@D)
	$(WASM_LINK_TEST)

WEB_PORT ?= 8000
web-serve: wasm
	@echo "charpipe's page: http://127.0.0.1:$(WEB_PORT)/ (serving $(WEB); Ctrl-C ends it)"
	@cd $(WEB) && python3 -m http.server $(WEB_PORT) --bind 127.0.0.1

# The man pages man/NAME.1, generated from each tool's --help (committed; tests/test_install.sh
# checks that they are up to date).
man: tools
	man/mkman.sh man $(TOOLS)

# pkg-config charpipe: the shared library and charpipe.h (its cp_ interface); pkg-config
# charpipe-static: libcharpipe.a and lib/'s headers (everything, for static links).
PC_DIR = $(DESTDIR)$(PREFIX)/lib/pkgconfig
install: tools $(LIBSO)
	install -d $(DESTDIR)$(PREFIX)/bin $(PC_DIR) $(DESTDIR)$(PREFIX)/include/charpipe \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(COMPDIR)
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(notdir $(LIBSO)) $(DESTDIR)$(PREFIX)/lib/libcharpipe.so.$(SO_MAJOR)
	ln -sf libcharpipe.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/libcharpipe.so
	install -m 644 lib/charpipe.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(PUBLIC_H) $(DESTDIR)$(PREFIX)/include/charpipe/
	for t in $(TOOLS); do n=$$(basename $$t); \
	    if [ -f man/$$n.1 ]; then install -m 644 man/$$n.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi; done
	install -m 644 tools/completion.bash $(DESTDIR)$(COMPDIR)/charpipe
	for t in $(TOOLS); do ln -sf charpipe $(DESTDIR)$(COMPDIR)/$$(basename $$t); done
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	    'Name: charpipe' 'Description: character-level LSTM/GRU text generation: open a model, generate, score (charpipe.h)' \
	    'Version: $(VERSION)' 'Libs: -L$${libdir} -lcharpipe' 'Cflags: -I$${includedir}' > $(PC_DIR)/charpipe.pc
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	    'Name: charpipe-static' 'Description: character-level LSTM/GRU text generation: tensor streams, models, kernels, training (libcharpipe.a)' \
	    'Version: $(VERSION)' 'Libs: $(strip $${libdir}/libcharpipe.a $(MSGPACK_LIBS) -lz -lm -lpthread)' \
	    'Cflags: $(strip -I$${includedir}/charpipe $(MSGPACK_CF))' > $(PC_DIR)/charpipe-static.pc
	chmod 644 $(PC_DIR)/charpipe.pc $(PC_DIR)/charpipe-static.pc

uninstall:
	for t in $(TOOLS); do n=$$(basename $$t); \
	    rm -f $(DESTDIR)$(PREFIX)/bin/$$n $(DESTDIR)$(PREFIX)/share/man/man1/$$n.1 $(DESTDIR)$(COMPDIR)/$$n; done
	rm -f $(DESTDIR)$(COMPDIR)/charpipe
	rm -f $(DESTDIR)$(PREFIX)/lib/libcharpipe.a $(DESTDIR)$(PREFIX)/lib/$(notdir $(LIBSO)) \
	    $(DESTDIR)$(PREFIX)/lib/libcharpipe.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/libcharpipe.so \
	    $(DESTDIR)$(PREFIX)/include/charpipe.h $(PC_DIR)/charpipe.pc $(PC_DIR)/charpipe-static.pc
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/include/charpipe/,$(notdir $(PUBLIC_H)))
	-rmdir $(DESTDIR)$(PREFIX)/include/charpipe 2>/dev/null

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
