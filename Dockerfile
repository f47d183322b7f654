# syntax=docker/dockerfile:1
# The operator's image: TypeScript bundled with its dependencies into dist/ in a build stage, on distroless
# Node 24 (no shell, no package manager), as a non-root user. Build from the repository root:
#
#   docker build -t arraycopy:dev .
#
# Without Docker, `npm run image` builds this same file with buildah on locally made base images of these names
# (docs/node.md), and `npm run test:node` runs it on a one-node cluster in CI.

ARG NODE_VERSION=24

# Build: bundle operator/src with its dependencies into dist/ (hack/build.ts, esbuild). Optional dependencies are
# installed here because esbuild's binary for this platform is one (@esbuild/linux-<arch>); --ignore-scripts leaves
# every install script unrun. Nothing of this stage but dist/ reaches the image.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY hack/build.ts ./hack/build.ts
COPY operator/src ./operator/src
RUN npm run build

# Runtime: distroless Node 24; its entrypoint is node itself. The nonroot tag runs as uid/gid 65532, which the
# chart's securityContext also sets.
FROM gcr.io/distroless/nodejs${NODE_VERSION}-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
# dist/ holds the operator, its data-mover thread and the populator, each one script with its dependencies inside:
# no node_modules. package.json tells node those scripts are ES modules ("type": "module").
COPY --from=build /src/dist ./dist
COPY package.json ./
# The embedded engine's data directory (the chart mounts a volume here); a metrics, health and readiness port.
VOLUME ["/var/lib/arraycopy"]
EXPOSE 8080
USER 65532:65532
# Node flags first (the chart's operator.nodeFlags sets the same): --optimize-for-size keeps V8's heap near what the
# operator retains (docs/benchmarks.md). The chart's args replace this whole CMD.
CMD ["--optimize-for-size", "dist/main.js"]
