# berth: build, install and test libberth (the C ABI) and the berth-init helper.
#
#   make build                 cargo build --release of the workspace (libberth + berth-init)
#   make header                regenerate include/berth.h with cbindgen $(CBINDGEN_VERSION)
#   make check-header          fail if include/berth.h is not what cbindgen generates
#   make install PREFIX=/usr   lib/libberth.so.1, libberth.so, libberth.a, include/berth.h,
#                              libexec/berth-init, lib/pkgconfig/berth.pc, and bin/berth (the
#                              OCI runtime command line, which finds ../libexec/berth-init)
#                              (DESTDIR honoured)
#   make c-test                tests/c against include/berth.h, linked dynamically and
#                              statically, both run (BERTH_TEST_ROOTFS, BERTH_HELPER)
#   make c-test-valgrind       the same under valgrind memcheck (valgrind 3.19 lacks pidfd_open
#                              and clone3: the container operations are skipped there)
#   make c-test-asan           tests/c under AddressSanitizer + LeakSanitizer, every container
#                              operation included, dynamic and static: no error, no leak
#   make demo                  build examples/c/run.c against libberth.so.1 and run it
#   make tools                 install the pinned cbindgen

CARGO ?= cargo
CC ?= cc
CXX ?= c++
CBINDGEN ?= cbindgen
CBINDGEN_VERSION := 0.29.2

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/libexec
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
RELEASE := $(TARGET_DIR)/release
# Mirrors the installed layout (libberth.so.1 and the libberth.so link) for the C tests.
STAGE := build/lib
CBUILD := build/c

# What a static libberth needs from the system, from
# `cargo rustc -p runtime-ffi --release --crate-type staticlib -- --print native-static-libs`.
STATIC_LIBS := -lseccomp -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
C_FLAGS := -Wall -Werror -std=c11 -g
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

BERTH_TEST_ROOTFS ?= $(abspath build/rootfs)
BERTH_HELPER ?= $(abspath $(RELEASE)/berth-init)
export BERTH_TEST_ROOTFS BERTH_HELPER

VALGRIND := valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=1 --quiet

# AddressSanitizer with LeakSanitizer. libberth's allocations go through malloc, so a leak of
# memory the library owns is reported; the berth-init helper is a separate, uninstrumented
# executable. Any error or leak makes the program exit non-zero.
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
ASAN_OPTIONS_TEST := detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=1:strict_string_checks=1

.PHONY: all build header check-header check-cbindgen tools install stage rootfs \
	c-test-build c-test c-test-valgrind c-test-asan example demo clean-c

all: build

build:
	$(CARGO) build --release --workspace

# ---- header ----

check-cbindgen:
	@$(CBINDGEN) --version 2>/dev/null | grep -qx 'cbindgen $(CBINDGEN_VERSION)' || { \
	  echo "cbindgen $(CBINDGEN_VERSION) is required (found: $$($(CBINDGEN) --version 2>&1 | head -n 1))." >&2; \
	  echo "Install it with: make tools" >&2; exit 1; }

tools:
	$(CARGO) install cbindgen --version $(CBINDGEN_VERSION) --locked

header: check-cbindgen
	$(CBINDGEN) --quiet --config runtime-ffi/cbindgen.toml --output include/berth.h runtime-ffi

check-header: check-cbindgen
	@tmp=$$(mktemp) && \
	$(CBINDGEN) --quiet --config runtime-ffi/cbindgen.toml --output $$tmp runtime-ffi && \
	if diff -u include/berth.h $$tmp; then rm -f $$tmp; echo "include/berth.h is up to date"; \
	else rm -f $$tmp; echo "include/berth.h is stale: run make header" >&2; exit 1; fi

# ---- install ----

# A directory under PREFIX as berth.pc writes it: ${prefix}/lib.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

stage: build
	mkdir -p $(STAGE)
	cp -f $(RELEASE)/libberth.so $(STAGE)/libberth.so.1
	ln -sf libberth.so.1 $(STAGE)/libberth.so
	cp -f $(RELEASE)/libberth.a $(STAGE)/libberth.a

install: build
	@test -x $(RELEASE)/berth-init || { echo "$(RELEASE)/berth-init was not built" >&2; exit 1; }
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBEXECDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(RELEASE)/libberth.so $(DESTDIR)$(LIBDIR)/libberth.so.1
	ln -sf libberth.so.1 $(DESTDIR)$(LIBDIR)/libberth.so
	install -m 0644 $(RELEASE)/libberth.a $(DESTDIR)$(LIBDIR)/libberth.a
	install -m 0644 include/berth.h $(DESTDIR)$(INCLUDEDIR)/berth.h
	install -m 0755 $(RELEASE)/berth-init $(DESTDIR)$(LIBEXECDIR)/berth-init
	install -m 0755 $(RELEASE)/berth $(DESTDIR)$(BINDIR)/berth
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|g' \
	  -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
	  -e 's|@LIBEXECDIR@|$(call pc_path,$(LIBEXECDIR))|g' \
	  -e 's|@VERSION@|$(VERSION)|g' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' \
	  runtime-ffi/berth.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/berth.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/berth.pc

# ---- C tests and examples ----

# The busybox rootfs the tests and the demo run in (idempotent).
rootfs:
	scripts/build-rootfs.sh build/rootfs

# Programs link against the staged libberth.so, whose soname makes them load libberth.so.1.
example: stage
	mkdir -p $(CBUILD)
	$(CC) $(C_FLAGS) -Iinclude examples/c/run.c -o $(CBUILD)/run \
	  -L$(STAGE) -lberth -Wl,-rpath,$(abspath $(STAGE))

demo: example rootfs
	./$(CBUILD)/run $(BERTH_TEST_ROOTFS)

c-test-build: example
	$(CC) $(C_FLAGS) -Iinclude tests/c/test_berth.c -o $(CBUILD)/test_berth_dynamic \
	  -L$(STAGE) -lberth -Wl,-rpath,$(abspath $(STAGE))
	$(CC) $(C_FLAGS) -Iinclude tests/c/test_berth.c -o $(CBUILD)/test_berth_static \
	  $(STAGE)/libberth.a $(STATIC_LIBS)
	$(CXX) -std=c++11 -Wall -Werror -fsyntax-only -x c++ include/berth.h
	@readelf -d $(STAGE)/libberth.so.1 | grep -q 'SONAME.*\[libberth\.so\.1\]' || \
	  { echo "libberth.so has no soname libberth.so.1" >&2; exit 1; }
	@! ldd $(CBUILD)/test_berth_static | grep -q libberth || \
	  { echo "test_berth_static is linked to libberth.so" >&2; exit 1; }

# Both programs run even if the first fails; the target fails if either did.
c-test: c-test-build rootfs
	@rc=0; \
	echo "== dynamic (libberth.so.1)"; ./$(CBUILD)/test_berth_dynamic || rc=1; \
	echo "== static (libberth.a)"; ./$(CBUILD)/test_berth_static || rc=1; \
	rmdir /sys/fs/cgroup/*/berth-ctest 2>/dev/null; exit $$rc

c-test-valgrind: c-test-build rootfs
	@command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
	@rc=0; export BERTH_TEST_VALGRIND=1; \
	echo "== valgrind, dynamic"; $(VALGRIND) ./$(CBUILD)/test_berth_dynamic || rc=1; \
	echo "== valgrind, static"; $(VALGRIND) ./$(CBUILD)/test_berth_static || rc=1; \
	rmdir /sys/fs/cgroup/*/berth-ctest 2>/dev/null; exit $$rc

# The driver is required (a driver that cannot be made fails the run) and ENOSYS is a failure:
# unlike valgrind, ASan runs every container operation.
c-test-asan: stage rootfs
	@echo 'int main(void) { return 0; }' | $(CC) $(ASAN_FLAGS) -x c - -o /dev/null 2>/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libasan8 >/dev/null; }
	mkdir -p $(CBUILD)
	$(CC) $(C_FLAGS) $(ASAN_FLAGS) -Iinclude tests/c/test_berth.c -o $(CBUILD)/test_berth_asan_dynamic \
	  -L$(STAGE) -lberth -Wl,-rpath,$(abspath $(STAGE))
	$(CC) $(C_FLAGS) $(ASAN_FLAGS) -Iinclude tests/c/test_berth.c -o $(CBUILD)/test_berth_asan_static \
	  $(STAGE)/libberth.a $(STATIC_LIBS)
	@rc=0; export BERTH_TEST_REQUIRE_DRIVER=1 ASAN_OPTIONS='$(ASAN_OPTIONS_TEST)'; \
	unset BERTH_TEST_VALGRIND; \
	echo "== AddressSanitizer, dynamic (libberth.so.1)"; ./$(CBUILD)/test_berth_asan_dynamic || rc=1; \
	echo "== AddressSanitizer, static (libberth.a)"; ./$(CBUILD)/test_berth_asan_static || rc=1; \
	rmdir /sys/fs/cgroup/*/berth-ctest 2>/dev/null; exit $$rc

clean-c:
	rm -rf $(STAGE) $(CBUILD)
