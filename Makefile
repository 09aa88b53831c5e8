# The two commands a newcomer needs: `make dev` runs the app, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8080
DEV_DATABASE_URL ?= sqlite://.data/dev.db?mode=rwc
CARGO ?= cargo

.PHONY: help dev test test-rust lint fmt db-up migrate build release openapi fuzz bench

help:
	@echo "make dev      run the whole API + static site on http://127.0.0.1:$(PORT) (SQLite in .data/)"
	@echo "make test     run every test (SQLite and MariaDB), after fmt and clippy checks"
	@echo "make migrate  apply the migrations to DATABASE_URL (RDS in production)"
	@echo "make release  build the four function binaries in release mode"

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

test: db-up lint test-rust fuzz

test-rust:
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

## Regenerates openapi.json from the code (a test fails while the committed file is stale).
openapi:
	UPDATE_OPENAPI=1 $(CARGO) nextest run -p app-core --test openapi committed_openapi_json_is_current

## Fuzzes every API operation with schemathesis against the local stack (installs it from PyPI).
fuzz:
	scripts/fuzz-api.sh

## Measures cold start, size, memory, throughput and chat overhead of the release binaries and
## writes BENCHMARKS.md (see crates/bench).
bench:
	$(CARGO) build --release -p chat -p auth-login -p auth-register -p admin-export -p bench
	target/release/bench
