# mfa-totp: a release build, then a slim runtime as a non-root user.
# Build: docker build -t mfa-totp .      Run: see deploy/compose.yaml or deploy/kubernetes.yaml
# .ci/deploy/image builds the runtime stage and starts it (podman, chroot isolation, on a
# Debian base made with debootstrap), taking the binary from the build stage's own command
# run outside a container; so the command stays one that builds.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The commit for mfa_totp_build_info (.git is not copied): docker build --build-arg
# MFA_TOTP_COMMIT=$(git rev-parse --short=12 HEAD) .
ARG MFA_TOTP_COMMIT=unknown
RUN cargo build --release --locked --bin mfa-totp

FROM debian:bookworm-slim
# CA certificates: every https client (Twilio, Vonage, a webhook gateway, the JWKS, the OTLP
# collector) checks its server against them. Without them an https provider is a start-up
# error that names its setting. Not pinned to a version (hadolint DL3008): the trust store
# must take Debian's updates, which remove distrusted authorities.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/mfa-totp --create-home mfa-totp
COPY --from=build /src/target/release/mfa-totp /usr/local/bin/mfa-totp
USER 10001:10001
WORKDIR /var/lib/mfa-totp
ENV MFA_TOTP__SERVER__HOST=0.0.0.0 \
    MFA_TOTP__SERVER__PORT=8080 \
    MFA_TOTP__SERVER__LOG_FORMAT=json
EXPOSE 8080
# No curl in the image: the binary probes itself (GET /health/ready on server.port, plain
# http on loopback, which needs no trust store).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/mfa-totp", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mfa-totp"]
CMD ["serve"]
