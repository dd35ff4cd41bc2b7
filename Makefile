# meshsnap: thin wrapper over CMake. `make run` and `make test` do all the set-up on a
# fresh Debian 12 machine (installing missing packages with apt-get).

BUILD      ?= build
ASAN_BUILD ?= build-asan
CONF_BUILD ?= build-configs
JOBS       ?= $(shell nproc)
VAR        ?= var
LISTEN     ?= 127.0.0.1:3000
# -Werror in the development builds (build, run, test, build-configs); `make WERROR=OFF run`
# to build with a compiler that warns about something new. The package build never uses it.
WERROR     ?= ON

# Debian packages: build, run, tests, benchmarks.
DEB_PACKAGES = build-essential cmake pkg-config libh2o-evloop-dev libssl-dev liblmdb-dev \
               libmsgpack-dev libsqlite3-dev zlib1g-dev libsystemd-dev libmosquitto-dev python3 python3-prometheus-client sqlite3 curl lmdb-utils \
               clang libclang-rt-14-dev wrk h2o rpm lintian rpmlint strace dpkg-dev \
               mosquitto mosquitto-clients python3-paho-mqtt openssl \
               nodejs chromium

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build build-configs run test bench clean ui-deps compat-deps

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The dashboard's libraries (uPlot, Leaflet) and the browser tests' driver (playwright-core),
# from ui/package-lock.json; ui/build.py vendors the libraries into $(BUILD)/ui.
ui-deps: ui/node_modules/.package-lock.json
# (npm: Debian's package when nodejs does not bring it.) Without the registry the build goes
# on; the dashboard then lacks the map and the charts and the browser tests skip.
ui/node_modules/.package-lock.json: ui/package-lock.json ui/package.json | deps
	@command -v npm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
	cd ui && npm ci --no-audit --no-fund || echo "warning: npm ci failed in ui/: building the dashboard without its libraries"

# The browser test's npm packages (tests/compat/package-lock.json: playwright-core, which
# drives Debian's chromium and never downloads a browser, and the CDN libraries CoreScope's
# page names, answered locally); npm from Debian when node came without it.
compat-deps: deps
	@command -v npm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
	@[ -d tests/compat/node_modules ] || (cd tests/compat && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) || \
		echo "warning: npm ci failed in tests/compat/: the CoreScope frontend test will skip"

build: deps ui-deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHSNAP_WERROR=$(WERROR)
	cmake --build $(BUILD) -j $(JOBS)

# Compile only, nothing run: no warning in the libraries and binaries under the other
# configurations people build them with (the tests are compiled, with -Werror, by $(BUILD),
# RelWithDebInfo, and $(ASAN_BUILD), Debug, so none of these builds them):
#   release  CMAKE_BUILD_TYPE=Release (-O3)
#   deb      exactly the package's configuration (Debian's hardening flags)
#   clang    Release with Debian's clang 14, whose warnings differ from gcc's
#            (-Wstring-concatenation, for one); about as long as the release build
build-configs: deps
	cmake -S . -B $(CONF_BUILD)/release -DCMAKE_BUILD_TYPE=Release -DMESHSNAP_TESTS=OFF -DMESHSNAP_WERROR=$(WERROR)
	cmake --build $(CONF_BUILD)/release -j $(JOBS)
	cmake -S . -B $(CONF_BUILD)/deb $(PKG_CMAKE_FLAGS) -DMESHSNAP_WERROR=$(WERROR)
	cmake --build $(CONF_BUILD)/deb -j $(JOBS)
	cmake -S . -B $(CONF_BUILD)/clang -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Release -DMESHSNAP_TESTS=OFF \
	  -DMESHSNAP_WERROR=$(WERROR)
	cmake --build $(CONF_BUILD)/clang -j $(JOBS)

run: build
	@mkdir -p $(VAR)
	@if [ ! -f $(VAR)/meshsnap.db ]; then \
	  echo "Generating a demo mesh in $(VAR)/meshsnap.db (meshsnap gen --demo)"; \
	  $(BUILD)/meshsnap gen --demo --quiet --db $(VAR)/meshsnap.db; \
	fi
	@echo "meshsnap: serving $(VAR)/meshsnap.db (Ctrl-C stops it)"
	@echo "  dashboard: http://$(LISTEN)/"
	@echo "  API:       http://$(LISTEN)/api/stats"
	exec $(BUILD)/meshsnapd --db $(VAR)/meshsnap.db --state-dir $(VAR)/state --listen $(LISTEN) --ui-root $(abspath $(BUILD))/ui

# The browser test (compat.browser) runs when CORESCOPE_PUBLIC names a CoreScope public/
# folder; the sanitizer pass leaves it out (it tests the frontend, not memory), and three
# long tests of properties other than memory, whose code runs under the sanitizers in other
# tests: test_backfill_blocking (readers' latency while the backfiller runs, which a
# sanitizer build distorts; see the backfill unit tests, test_backfill_resume and
# test_backfill_truth), test_ingest_crash (exactly-once delivery across 10 kill -9 of the
# ingestor; see test_ingest_mqtt, test_ingest_brokers, test_ingest_tls) and
# test_ops_lifecycle (processes living and dying with the master; see test_ops_crash,
# test_ops_shutdown, test_core_workers).
test: build build-configs compat-deps
	cd $(BUILD) && ctest --output-on-failure -j 2
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMESHSNAP_SANITIZE=ON -DMESHSNAP_FUZZ=OFF -DMESHSNAP_WERROR=$(WERROR)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2 -E 'fuzz|compat|test_backfill_blocking|test_ingest_crash|test_ops_lifecycle'

bench: build
	@echo "See tests/bench/README.md"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CONF_BUILD)

# Packages: $(PKG_BUILD)/meshsnap_<version>_<arch>.deb and meshsnap-<version>-1.<arch>.rpm,
# built with Debian's hardening flags and installing under /usr, then checked (file lists,
# man pages against --help, unit, lintian, rpmlint: tests/packaging/build_check.sh).
PKG_BUILD ?= build-pkg
PKG_DEB_PACKAGES = rpm lintian rpmlint dpkg-dev
PKG_HARDENING = DEB_BUILD_MAINT_OPTIONS=hardening=+all
# the package's configuration: `make package` builds it without -Werror, build-configs with it
PKG_CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHSNAP_TESTS=OFF \
  -DCMAKE_C_FLAGS="$$($(PKG_HARDENING) dpkg-buildflags --get CFLAGS) $$($(PKG_HARDENING) dpkg-buildflags --get CPPFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$$($(PKG_HARDENING) dpkg-buildflags --get LDFLAGS)"

.PHONY: package
package: deps ui-deps
	@missing=""; for p in $(PKG_DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	cmake -S . -B $(PKG_BUILD) $(PKG_CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=/usr -DMESHSNAP_WERROR=OFF
	cmake --build $(PKG_BUILD) -j $(JOBS)
	cd $(PKG_BUILD) && HOME=$$PWD/cpack-home cpack -G "DEB;RPM"  # rpmbuild keeps a database under $$HOME
	MESHSNAP_SOURCE=$(CURDIR) MESHSNAP_PACKAGE_TEST=1 sh tests/packaging/build_check.sh $(PKG_BUILD)
