# xy-ticket tasks. `just` lists them; `just --show RECIPE` prints one.
# Variables come from the environment, then from .env (see .env.example).

set dotenv-load
set shell := ["bash", "-euo", "pipefail", "-c"]

default_database_url := "postgres://postgres@127.0.0.1:5432/xyt"
default_test_database_url := "postgres://postgres@127.0.0.1:5432/postgres"

# Server on which every test creates (and drops) its own `xyt_test_*` database.
export XYT_TEST_DATABASE_URL := env_var_or_default("XYT_TEST_DATABASE_URL", default_test_database_url)

# List the recipes
default:
    @just --list

# Debug build, make sure the dev database answers, then serve with demo data
run:
    #!/usr/bin/env bash
    set -euo pipefail
    # Build first, without DATABASE_URL forced on the compiler.
    cargo build -p xyt-server
    # The operator console, served by xyt at / (XYT_CONSOLE_DIR, default frontend/dist).
    (cd frontend && { [ -d node_modules ] || npm ci; } && npm run build)
    export DATABASE_URL="${DATABASE_URL:-{{ default_database_url }}}"
    export XYT_BIND="${XYT_BIND:-127.0.0.1:8080}"
    export XYT_PUBLIC_BASE_URL="${XYT_PUBLIC_BASE_URL:-http://127.0.0.1:8080}"
    # Demo credentials for the XGJ (闲管家) integration; real ones come from .env.
    export XYT_XGJ_APP_ID="${XYT_XGJ_APP_ID:-677859093659717}"
    export XYT_XGJ_APP_SECRET="${XYT_XGJ_APP_SECRET:-demo-app-secret}"
    export XYT_XGJ_MCH_ID="${XYT_XGJ_MCH_ID:-xy-ticket-mvp-001}"
    export XYT_XGJ_MCH_SECRET="${XYT_XGJ_MCH_SECRET:-demo-mch-secret}"
    bash scripts/dev-db.sh
    # The server migrates its database itself and prints its URLs.
    exec "${CARGO_TARGET_DIR:-target}/debug/xyt" serve --demo

# Database up, leftover test databases dropped, all tests, format check, frontend tests
test:
    #!/usr/bin/env bash
    set -euo pipefail
    # A server must answer at XYT_TEST_DATABASE_URL (system PostgreSQL or a local cluster).
    DATABASE_URL="$XYT_TEST_DATABASE_URL" bash scripts/dev-db.sh
    # Best effort: drop xyt_test_* databases left by killed runs. No FORCE, so a
    # database still in use by a concurrent run is left alone.
    leftovers="$(psql "$XYT_TEST_DATABASE_URL" -X -tA -c "SELECT datname FROM pg_database WHERE datname LIKE 'xyt\_test\_%'" 2>/dev/null || true)"
    if [ -n "$leftovers" ]; then
        dropped=0; kept=0
        for db in $leftovers; do
            if psql "$XYT_TEST_DATABASE_URL" -X -q -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1; then
                dropped=$((dropped + 1))
            else
                kept=$((kept + 1))
            fi
        done
        echo "test: dropped $dropped leftover test database(s), $kept in use left alone"
    fi
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace
    else
        cargo test --workspace --all-targets
    fi
    cargo fmt --all -- --check
    # The API against its document: schemathesis (pinned) on a running server, every phase,
    # fixed seed, about a minute (scripts/schemathesis.sh; ST_MAX_EXAMPLES etc. to widen).
    bash scripts/schemathesis.sh
    # Console: API types vs the document, type check, vitest, build within the bundle budget,
    # then the whole order life through the UI (Playwright + Debian's chromium, real xyt serve).
    if [ -f frontend/package.json ]; then (cd frontend && npm ci && npm test && npm run e2e); fi

# Benchmarks of the server crate (none yet: prints a message)
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    if compgen -G "crates/server/benches/*.rs" >/dev/null || grep -q '^\[\[bench\]\]' crates/server/Cargo.toml; then
        DATABASE_URL="$XYT_TEST_DATABASE_URL" bash scripts/dev-db.sh
        cargo bench -p xyt-server
    else
        echo "bench: no benchmarks in crates/server yet (add crates/server/benches/*.rs)"
    fi

# Fuzz every target for SECS seconds each (stable toolchain: no sanitizer). Not part of `just test`.
fuzz secs="60":
    #!/usr/bin/env bash
    set -euo pipefail
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    fi
    cd fuzz
    # Stable has no sanitizers; libFuzzer's coverage instrumentation and crash detection
    # (panics, assertions, overflow checks with -a) still work.
    cargo fuzz build --sanitizer none -O -a
    for target in $(cargo fuzz list); do
        echo "fuzz: $target for {{ secs }} s"
        mkdir -p "corpus/$target"
        cargo fuzz run --sanitizer none -O -a "$target" "corpus/$target" seeds/"$target" -- \
            -max_total_time={{ secs }} -max_len=65536 -rss_limit_mb=1024 -timeout=10 -print_final_stats=1
    done

# Format all Rust code
fmt:
    cargo fmt --all

# Clippy on everything, warnings are errors
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Regenerate openapi/openapi.json from the server's API description
openapi:
    mkdir -p openapi
    cargo run -q -p xyt-server -- openapi > openapi/openapi.json.tmp || { rm -f openapi/openapi.json.tmp; exit 1; }
    mv openapi/openapi.json.tmp openapi/openapi.json
    @echo "wrote openapi/openapi.json"
    # The console's API types come from the document: regenerate them with it.
    if [ -d frontend ]; then (cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run -s gen:api); fi

# Make sure the dev database (DATABASE_URL) answers and exists
db:
    bash scripts/dev-db.sh

# Stop the project-local PostgreSQL cluster started by `just db`
db-stop:
    bash scripts/dev-db.sh stop

# Install the tools `just test` needs (just, PostgreSQL, chromium when needed)
setup:
    bash scripts/ci-setup.sh

# Schemathesis (pinned) against a running server on a fresh database (not yet in `just test`:
# see scripts/schemathesis.sh and docs for the failures still open)
schemathesis:
    bash scripts/schemathesis.sh
