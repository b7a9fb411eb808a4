# solstream: the same two steps as the README's run command (npm ci, then npm start).
FROM node:20-bookworm-slim
# sqlite3's native addon compiles during npm ci when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# npm start builds the client bundle and the dashboard first (prestart), as it does outside Docker.
RUN npm run build && chown -R node:node clients
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
USER node
CMD ["npm", "start"]
