# Casekit's two commands: `make run` opens the app, `make test` runs every test.
# Both install what is missing first (system packages via apt on Debian/Ubuntu as root or with
# sudo, npm packages in ui/, tauri-driver in .tools/) and are safe to run again.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help run test verify bench bindings deps deps-system deps-toolchain deps-node deps-e2e ui-build app

ROOT       := $(CURDIR)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(ROOT)/target)
TOOLS_DIR  ?= $(ROOT)/.tools
TAURI_DRIVER := $(TOOLS_DIR)/bin/tauri-driver
# Every cargo call uses the same features so that tests, the E2E binary and `make run` share one build.
FEATURES   := --features custom-protocol
export TAURI_DRIVER

help:
	@echo "make run    install what is missing, build, and open Casekit on the Sandbox profile"
	@echo "make test   format and lint checks, Rust unit + integration tests, the adversarial suite, UI unit tests, OS keychain and live profiles, end-to-end tests (Xvfb)"
	@echo "make verify the adversarial suite: prints 'adversarial: N attempted, N refused, 0 mutated'"
	@echo "make bench  start-up time, idle memory, binary and .deb size of the release build"
	@echo "make bindings  regenerate ui/src/lib/bindings.ts from the Rust types"

run: deps ui-build app
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "No display found. Run make run from a desktop session, or headless: xvfb-run -a make run"; exit 1; fi
	$(TARGET_DIR)/debug/casekit

test: deps deps-e2e
	scripts/test-all

# The attacks of tests/adversarial, and the line that adds them up (computed from the results).
verify: deps ui-build
	scripts/verify

bench: deps
	scripts/bench

bindings: deps-node ui-build
	CASEKIT_UPDATE_BINDINGS=1 cargo test $(FEATURES) --test bindings

deps: deps-system deps-toolchain deps-node

deps-system:
	@scripts/install-system-packages

deps-toolchain:
	@command -v cargo >/dev/null || { echo "Rust is missing: install it from https://rustup.rs (rustup default stable), then run make again."; exit 1; }
	@command -v node >/dev/null || { echo "Node.js 20 or newer is missing: install it (https://nodejs.org or your package manager), then run make again."; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "Node.js $$(node --version) is too old: Casekit's UI build needs Node.js 20 or newer."; exit 1; }

deps-node: ui/node_modules/.casekit-stamp

ui/node_modules/.casekit-stamp: ui/package.json ui/package-lock.json
	# npm ci refuses lock files written without download addresses (omit-lockfile-registry-resolved);
	# npm install follows the lock file all the same.
	cd ui && npm install --no-audit --no-fund
	@touch $@

deps-e2e: $(TAURI_DRIVER)

$(TAURI_DRIVER):
	cargo install tauri-driver --locked --version '^2' --root $(TOOLS_DIR)

ui-build: deps-node
	cd ui && npm run build

app: ui-build
	cargo build $(FEATURES)
