# The listener image built from the installed package: `npm run build` (infra/bundleAssets.ts) bundled the
# listener and the migration runner into single ESM files beside this Dockerfile (dist/listener/), so the
# image needs no npm install, no lock file and no sources. The construct uses this file when it runs from
# the compiled package; in the repository it builds from sources with infra/listener/Dockerfile.
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
  NODE_OPTIONS=--enable-source-maps \
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
COPY listener.mjs listener.mjs.map migrate.mjs migrate.mjs.map ./
USER node
CMD ["node", "listener.mjs"]
