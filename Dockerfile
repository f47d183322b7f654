# syntax=docker/dockerfile:1
# The operator's image: TypeScript compiled to dist/ in a build stage, production dependencies only, on distroless
# Node 24 (no shell, no package manager), as a non-root user. Build from the repository root:
#
#   docker build -t arraycopy:dev .
#
# Without Docker, `npm run image` builds this same file with buildah on locally made base images of these names
# (docs/node.md), and `npm run test:node` runs it on a one-node cluster in CI.

ARG NODE_VERSION=24

# Build: compile with the dev dependencies (typescript). --omit=optional skips the node-linux-<arch> packages that
# bring Node 24 to machines without it: the image already has Node 24.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src ./operator/src
RUN npm run build

# Production dependencies only, in their own stage so the build's dev dependencies never reach the image.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# Runtime: distroless Node 24; its entrypoint is node itself. The nonroot tag runs as uid/gid 65532, which the
# chart's securityContext also sets.
FROM gcr.io/distroless/nodejs${NODE_VERSION}-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The embedded engine's data directory (the chart mounts a volume here); a metrics, health and readiness port.
VOLUME ["/var/lib/arraycopy"]
EXPOSE 8080
USER 65532:65532
# Node flags first (the chart's operator.nodeFlags sets the same): --optimize-for-size keeps V8's heap near what the
# operator retains (docs/benchmarks.md). The chart's args replace this whole CMD.
CMD ["--optimize-for-size", "dist/main.js"]
