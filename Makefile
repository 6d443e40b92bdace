# taskd: `make run` serves examples/tasks.ts (dev server when no broker is configured);
# `make test` installs what it needs, builds dist/taskd and runs the suite on Bun and Deno.
BIN := node_modules/.bin
SRC := $(shell find src -name '*.ts') mod.ts package.json

.PHONY: all install build run test test-reliability bench check clean

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed
	@command -v nats-server >/dev/null 2>&1 || { \
	  echo "installing nats-server (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq nats-server) >/dev/null || \
	  { echo "could not install nats-server: install it by hand (apt-get install nats-server)"; exit 1; }; }
	@# The dashboard's browser tests drive Debian's Chromium (tests/dashboard_browser.e2e.test.ts).
	@test -x /usr/bin/chromium || command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package, for the dashboard's browser tests)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null || \
	  { echo "could not install chromium: install it by hand (apt-get install chromium)"; exit 1; }; }

# The pool threads run src/worker/pool/thread.ts: a second entry point embedded in the binary.
dist/taskd: node_modules/.installed $(SRC)
	$(BIN)/bun build --compile src/cli/main.ts src/worker/pool/thread.ts --outfile dist/taskd

build: dist/taskd

run: install build
	dist/taskd worker examples/tasks.ts

test: install build check
	bash tests/run.sh

# The fault, fuzz and security tests alone (they are part of `make test` too: tests/*.test.ts).
test-reliability: install build
	bash tests/run.sh tests/reliability*.test.ts tests/fuzz*.test.ts tests/security*.test.ts tests/protocol*.test.ts

bench: install build
	bash bench/run.sh

check: node_modules/.installed
	$(BIN)/deno check mod.ts src/cli/main.ts
	$(BIN)/deno lint src mod.ts
	$(BIN)/deno doc --lint mod.ts

clean:
	rm -rf dist .taskd
