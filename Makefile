# taskd: `make run` serves examples/tasks.ts (dev server when no broker is configured);
# `make test` installs what it needs, builds dist/taskd and runs the suite on Bun and Deno.
BIN := node_modules/.bin
SRC := $(shell find src -name '*.ts') mod.ts worker.ts package.json

.PHONY: all install build lib run test test-fast test-reliability bench soak check release clean

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed
	@command -v nats-server >/dev/null 2>&1 || { \
	  echo "installing nats-server (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq nats-server) >/dev/null || \
	  { echo "could not install nats-server: install it by hand (apt-get install nats-server)"; exit 1; }; }
	@# The outside client test (tests/protocol.outside.e2e.test.ts) runs Debian's python3 with msgpack.
	@/usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1 || python3 -c 'import msgpack' >/dev/null 2>&1 || { \
	  echo "installing python3-msgpack (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq python3 python3-msgpack) >/dev/null || \
	  echo "could not install python3-msgpack: tests/protocol.outside.e2e.test.ts will be skipped"; }
	@# The dashboard's browser tests drive Debian's Chromium (tests/dashboard_browser.e2e.test.ts).
	@test -x /usr/bin/chromium || command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package, for the dashboard's browser tests)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null || \
	  { echo "could not install chromium: install it by hand (apt-get install chromium)"; exit 1; }; }

# The pool threads run src/cli/thread.ts: a second entry point embedded in the binary, under
# $bunfs/root/ by its path from the entries' common folder (src/cli/): keep both entries there.
# The autoload flags make the binary read a task module's package.json and tsconfig.json files
# as `bun tasks.ts` does: without them its packages resolve only through an index.js at their
# root (oven-sh/bun#27058) and tsconfig `paths` are ignored (docs/modules.md).
dist/taskd: node_modules/.installed $(SRC) Makefile
	$(BIN)/bun build --compile --compile-autoload-package-json --compile-autoload-tsconfig src/cli/main.ts src/cli/thread.ts --outfile dist/taskd

# The npm package's JavaScript and types (package.json "exports", "files"): bun build bundles
# the entries with shared chunks, so the CLI, `taskd` and `taskd/worker` share one module
# instance each (one App registry); tsc writes the .d.ts files beside them.
LIB_ENTRIES := mod.ts worker.ts src/cli/main.ts src/cli/thread.ts
dist/lib/mod.js: node_modules/.installed $(SRC) tsconfig.build.json
	rm -rf dist/lib
	$(BIN)/bun build $(LIB_ENTRIES) --outdir dist/lib --root . --target node --format esm --splitting --packages external
	$(BIN)/tsc -p tsconfig.build.json

lib: dist/lib/mod.js

build: dist/taskd dist/lib/mod.js

run: install build
	dist/taskd worker examples/tasks.ts

test: install build check
	bash tests/run.sh

# Day to day, on Bun (about 2 minutes): the suite without the cluster, fuzz, broker-restart,
# lost-worker and npm-registry tests (they load the box, wait out the 30 s ack_wait or install
# from the network); `make test` runs them all on both runtimes. Both runtimes here too:
# make test-fast TASKD_TEST_RUNTIMES="bun deno".
test-fast: install build
	TASKD_TEST_RUNTIMES="$${TASKD_TEST_RUNTIMES:-bun}" bash tests/run.sh $(filter-out $(wildcard tests/reliability*.test.ts tests/fuzz*.test.ts) tests/failures.lost.e2e.test.ts tests/batches_crash.e2e.test.ts tests/modules.npm.e2e.test.ts,$(wildcard tests/*.test.ts))

# The fault, fuzz and security tests alone (they are part of `make test` too: tests/*.test.ts).
test-reliability: install build
	bash tests/run.sh tests/reliability*.test.ts tests/fuzz*.test.ts tests/security*.test.ts tests/protocol*.test.ts

bench: install build
	bash bench/run.sh

# The chaos soak (not part of `make test`): SOAK_SECONDS (default 300), SOAK_CHAOS_MIN/MAX,
# SOAK_RATE, SOAK_TRACE=1 (where lost tasks went); a table on stdout and
# bench/soak/results/<date>.json. See docs/guarantees.md.
soak: install build
	$(BIN)/bun bench/soak/soak.ts

# Type check, lint, doc lint of both entries, and the layer check (docs/architecture.md).
check: node_modules/.installed
	$(BIN)/deno check mod.ts worker.ts src/cli/main.ts src/cli/thread.ts
	$(BIN)/deno lint src mod.ts worker.ts
	$(BIN)/deno doc --lint mod.ts worker.ts
	$(BIN)/deno run --allow-read .ci/layers.ts

# A release: the compiled binary named for its platform, the npm tarball, and SHA256SUMS over
# both, in dist/release/; then the JSR dry run (offline; --allow-slow-types: see docs/packaging.md).
VERSION = $(shell node -p 'require("./package.json").version')
PLATFORM = $(shell node -p 'process.platform + "-" + process.arch')
release: build
	rm -rf dist/release && mkdir -p dist/release
	cp dist/taskd dist/release/taskd-$(VERSION)-$(PLATFORM)
	npm pack --pack-destination dist/release
	cd dist/release && sha256sum taskd-$(VERSION)-$(PLATFORM) taskd-$(VERSION).tgz > SHA256SUMS
	@$(BIN)/deno publish --dry-run --allow-dirty --allow-slow-types >dist/release/jsr-dry-run.log 2>&1 || \
	  { cat dist/release/jsr-dry-run.log; exit 1; }
	@echo "JSR dry run: ok (dist/release/jsr-dry-run.log)"
	@cat dist/release/SHA256SUMS

clean:
	rm -rf dist .taskd
