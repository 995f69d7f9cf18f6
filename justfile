# Portico's everyday commands. `just --list` explains them; none of them is needed for the
# README's quick start, which uses ./dev directly.

# Build and start Portico on the embedded SQLite database
run *ARGS:
    ./dev run {{ARGS}}

# Run the whole test suite (SQLite, and PostgreSQL when reachable)
test *ARGS:
    ./dev test {{ARGS}}

# Check formatting and clippy lints as CI does
lint:
    ./dev lint

# Format every crate
fmt:
    cargo fmt --all

# Run the checks CI runs, with PostgreSQL required
ci:
    bash .ci/run

# Apply database migrations and exit
migrate:
    cargo run -q -p gateway --bin portico -- migrate

# Print a new operator admin API key
api-key:
    cargo run -q -p gateway --bin portico -- api-key create --operator

# Save console screenshots from the browser test into ./screenshots
screenshots:
    mkdir -p screenshots && PORTICO_SCREENSHOTS="$PWD/screenshots" cargo test -p gateway --test api browser

# Build an optimised binary at target/release/portico
release:
    cargo build --release -p gateway --bin portico
