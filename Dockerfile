# workspace-relay container: built from the release tarball, non-root (user node, uid 1000), the
# spool on a volume. README "Docker"; compose.yaml runs it.
#   docker build -t workspace-relay .
#   docker run -d --stop-timeout 90 -p 25:2525 -v relay-spool:/var/spool/workspace-relay \
#     -v /etc/workspace-relay:/etc/workspace-relay:ro workspace-relay
# Key and password files in /etc/workspace-relay: mode 0600, owned by uid 1000 (the relay refuses
# key files others can read). Docker's default 10 s stop is shorter than queue.shutdownTimeout
# (30 s): give the container more (--stop-timeout 90, compose stop_grace_period: 90s).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md compose.yaml ./
COPY src ./src
COPY config ./config
COPY systemd ./systemd
COPY docs ./docs
# The release tarball: dist/ built by prepack, production dependencies bundled.
RUN npm pack --pack-destination /tmp && mv /tmp/workspace-relay-*.tgz /tmp/workspace-relay.tgz

FROM node:24-bookworm-slim
# --max-semi-space-size=1: large scans' garbage is freed young (peak memory, docs/benchmarks.md).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=1 \
    WORKSPACE_RELAY_CONFIG=/etc/workspace-relay/config.yaml
COPY --from=build /tmp/workspace-relay.tgz /tmp/workspace-relay.tgz
RUN npm install --global --prefix /opt/workspace-relay --offline --no-audit --no-fund /tmp/workspace-relay.tgz \
 && rm /tmp/workspace-relay.tgz \
 && ln -s /opt/workspace-relay/bin/workspace-relay /usr/local/bin/workspace-relay \
 && install -d -o node -g node -m 700 /var/spool/workspace-relay
USER node
WORKDIR /var/spool/workspace-relay
# The config's queue.dir should be /var/spool/workspace-relay (a volume: the spool holds PHI and
# must survive the container); the audit log defaults to audit.log inside it. Listen on
# 0.0.0.0:2525 inside; publish it as port 25.
VOLUME ["/var/spool/workspace-relay"]
EXPOSE 2525
STOPSIGNAL SIGTERM
# /healthz of the operations listener (127.0.0.1:9325): the process can do its job. Node itself
# asks (the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9325/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["workspace-relay"]
CMD ["serve", "--log-format", "json"]
