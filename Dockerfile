# syntax=docker/dockerfile:1
# tradecycle in a container: one cycle per `docker run` (or Kubernetes Job),
# for operators with many accounts (deploy/kubernetes/cronjob.yaml).
#
#   docker build -t tradecycle .
#   docker run --rm tradecycle replay --format text
#   docker run --rm -v "$PWD/artifacts:/app/artifacts" --env-file account.env tradecycle run

# ---- build: the release binary, exactly the locked dependencies, with the
# Rust that rust-toolchain.toml pins ------------------------------------------
FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target between builds of one machine.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tradecycle \
    && install -D -m 0755 target/release/tradecycle /out/usr/local/bin/tradecycle \
    && mkdir -p /out/app/artifacts

# ---- run: glibc + CA certificates, no shell, non-root ----------------------
# distroless/cc matches the builder's Debian 12 glibc and carries the CA
# bundle the HTTPS clients (Binance, Google, Telegram, GitHub) verify against.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/usr/local/bin/tradecycle /usr/local/bin/tradecycle
# The default fixture set is compiled into the binary; the others are here
# for `replay --fixtures fixtures/<set>`.
COPY fixtures /app/fixtures
# Reports and recovery files go to artifacts/ under the working directory:
# writable by the runtime user (mount a volume there to keep them).
COPY --from=builder --chown=65532:65532 /out/app/artifacts /app/artifacts
WORKDIR /app
USER 65532:65532
# Exec form, no shell: the binary is PID 1 and receives SIGTERM itself
# (`run` finishes the order in flight, saves, reports and exits 6; other
# commands exit at once).
ENTRYPOINT ["/usr/local/bin/tradecycle"]
CMD ["--help"]
