# syntax=docker/dockerfile:1
# xy-ticket back office: `docker compose up` (see docker-compose.yml).
# Migrations are embedded in the binary (sqlx::migrate!), so only it is shipped.

# The operator console (frontend/), built once and served by xyt at / from XYT_CONSOLE_DIR.
FROM node:20-bookworm-slim AS console
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM rust:1.95-bookworm AS builder
WORKDIR /app
# rust-toolchain.toml pins 1.95.0 with rustfmt + clippy; the image's toolchain serves it.
# sqlx query macros (if any) must use the committed .sqlx/ cache: no database at build time.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked -p xyt-server

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin xyt \
 && mkdir -p /var/lib/xyt/files && chown xyt /var/lib/xyt/files
COPY --from=builder /app/target/release/xyt /usr/local/bin/xyt
COPY --from=console /app/frontend/dist /usr/share/xyt/console
USER xyt
ENV XYT_BIND=0.0.0.0:8080 \
    XYT_CONSOLE_DIR=/usr/share/xyt/console \
    RUST_LOG=info,sqlx=warn
EXPOSE 8080
CMD ["xyt", "serve"]
