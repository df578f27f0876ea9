# workspace-relay container: multi-stage, non-root, spool on a volume.
#   docker build -t workspace-relay .
#   docker run -d -p 25:2525 -v relay-spool:/var/spool/workspace-relay \
#     -v /etc/workspace-relay:/etc/workspace-relay:ro workspace-relay
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    WORKSPACE_RELAY_CONFIG=/etc/workspace-relay/config.yaml
WORKDIR /opt/workspace-relay
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /var/spool/workspace-relay && chown node:node /var/spool/workspace-relay && chmod 700 /var/spool/workspace-relay
USER node
# The config's queue.dir should be /var/spool/workspace-relay (a volume: the spool holds PHI and
# must survive the container). Listen on 0.0.0.0:2525 inside; publish it as port 25.
VOLUME ["/var/spool/workspace-relay"]
EXPOSE 2525
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/workspace-relay/dist/cli/index.js"]
CMD ["serve"]
