# Switchboard in a container: docker build -t switchboard . && docker run -p 8765:8765 switchboard
# Two stages: the first compiles TypeScript with the dev dependencies, the second holds only the
# compiled app and the production dependencies (docs/deploy.md).

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below; no dependency needs its
# install script (bufferutil ships prebuilt binaries, the dev-only browser and WebRTC ones are unused).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY client ./client
COPY src ./src
RUN npx tsc -p client/tsconfig.json && npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8765
WORKDIR /app
COPY package.json ./
COPY bin ./bin
COPY web ./web
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/client ./dist/client
# The image's unprivileged user (uid 1000); the files above stay root's, read-only to it.
USER node
EXPOSE 8765
# No curl in the slim image: Node's own fetch asks /health.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8765) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets docker stop's SIGTERM itself, so it drains (drainTimeoutMs,
# default 10 s, exits within that + 5 s): give it the time with `docker stop -t 20`.
STOPSIGNAL SIGTERM
CMD ["node", "bin/switchboard.js"]
