// A fast local stand-in for FCM HTTP v1 + Google's OAuth2 token endpoint, for the benchmark.
//
// Same protocol and control endpoints as fcm_standin.py (the one the tests use), on Node's built-in
// http2 module (nghttp2 in C++), so the stand-in does not eat the CPU the workers are measured on:
//   POST /token                                  OAuth2 JWT-bearer grant; the RS256 assertion must be
//                                                signed by the key written to the credentials file,
//                                                audience = this token URI, FCM scope.
//   POST /v1/projects/{project}/messages:send    bearer token + message shape checked; 200 {name},
//                                                404 UNREGISTERED (dead tokens), 429 + Retry-After.
//   GET /_stats[?tokens=0]  POST /_config        counts; latency_s, rate_429, rate_unregistered,
//                                                retry_after_s, throttle_first, dead_tokens, reset_counts
// Run: node fcm_standin.mjs --dir DIR [--port 0] [--project samaconso-test]
// prints one JSON line {"url": ..., "credentials_file": ...}. No npm packages needed.

import crypto from "node:crypto";
import fs from "node:fs";
import http2 from "node:http2";
import path from "node:path";

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

const args = { port: 0, dir: null, project: "samaconso-test" };
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
}
if (!args.dir) {
  console.error("--dir is required");
  process.exit(2);
}

const sendPath = `/v1/projects/${args.project}/messages:send`;
const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const issued = new Set();

function freshConfig() {
  return { latency_s: 0, rate_429: 0, rate_unregistered: 0, retry_after_s: 0.2, throttle_first: 0, dead_tokens: new Set() };
}
function freshState() {
  return { accepted: new Map(), attempts: new Map(), throttled: 0, unregistered: 0, rejected_auth: 0, bad_shape: 0, first_at: null, last_at: null, accepted_total: 0, duplicates: 0 };
}
let config = freshConfig();
let state = freshState();
let tokensIssued = 0;
let seq = 0;
let tokenUri = "";

function fcmError(status, grpcStatus, message, fcmCode) {
  const err = { code: status, message, status: grpcStatus };
  if (fcmCode) err.details = [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: fcmCode }];
  return [status, {}, JSON.stringify({ error: err })];
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

function token(body) {
  const form = new URLSearchParams(body.toString("utf8"));
  if (form.get("grant_type") !== GRANT) return [400, {}, '{"error":"unsupported_grant_type"}'];
  const parts = (form.get("assertion") || "").split(".");
  let claims;
  try {
    if (parts.length !== 3 || b64urlJson(parts[0]).alg !== "RS256") throw new Error("alg");
    const ok = crypto.verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2], "base64url"));
    if (!ok) throw new Error("signature");
    claims = b64urlJson(parts[1]);
    const now = Date.now() / 1000;
    if (claims.aud !== tokenUri || !(claims.exp > now) || (claims.iat && claims.iat > now + 60)) throw new Error("claims");
  } catch {
    return [400, {}, '{"error":"invalid_grant"}'];
  }
  if (claims.scope !== SCOPE) return [400, {}, '{"error":"invalid_scope"}'];
  const access = "ya29." + crypto.randomBytes(18).toString("base64url");
  issued.add(access);
  tokensIssued += 1;
  return [200, {}, JSON.stringify({ access_token: access, expires_in: 3599, token_type: "Bearer" })];
}

function shapeOk(body) {
  const msg = body && typeof body === "object" ? body.message : null;
  if (!msg || typeof msg !== "object" || typeof msg.token !== "string" || !msg.token) return false;
  const note = msg.notification;
  if (note !== undefined && !(note && typeof note === "object" && Object.values(note).every((v) => typeof v === "string"))) return false;
  const data = msg.data === undefined ? {} : msg.data;
  return !!data && typeof data === "object" && !Array.isArray(data) && Object.values(data).every((v) => typeof v === "string");
}

function send(headers, body) {
  const [scheme, bearer] = String(headers.authorization || "").split(" ");
  if ((scheme || "").toLowerCase() !== "bearer" || !issued.has(bearer)) {
    state.rejected_auth += 1;
    return fcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
  }
  let payload = null;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch {
    payload = null;
  }
  if (!shapeOk(payload)) {
    state.bad_shape += 1;
    return fcmError(400, "INVALID_ARGUMENT", "Invalid message", "INVALID_ARGUMENT");
  }
  const tok = payload.message.token;
  const attempts = (state.attempts.get(tok) || 0) + 1;
  state.attempts.set(tok, attempts);
  if ((config.rate_429 && Math.random() < config.rate_429) || attempts <= config.throttle_first) {
    state.throttled += 1;
    const answer = fcmError(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED");
    answer[1]["retry-after"] = String(config.retry_after_s);
    return answer;
  }
  if (config.dead_tokens.has(tok) || tok.startsWith("dead-") || (config.rate_unregistered && Math.random() < config.rate_unregistered)) {
    state.unregistered += 1;
    return fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED");
  }
  const now = Date.now() / 1000;
  if (state.first_at === null) state.first_at = now;
  state.last_at = now;
  const count = (state.accepted.get(tok) || 0) + 1;
  state.accepted.set(tok, count);
  state.accepted_total += 1;
  if (count > 1) state.duplicates += 1;
  seq += 1;
  return [200, {}, `{"name":"projects/${args.project}/messages/${seq}"}`];
}

function snapshot(withTokens) {
  return {
    accepted_total: state.accepted_total,
    distinct_tokens: state.accepted.size,
    duplicates: state.duplicates,
    throttled: state.throttled,
    unregistered: state.unregistered,
    rejected_auth: state.rejected_auth,
    bad_shape: state.bad_shape,
    tokens_issued: tokensIssued,
    first_at: state.first_at,
    last_at: state.last_at,
    accepted: withTokens ? Object.fromEntries(state.accepted) : {},
  };
}

function configure(body) {
  const cfg = JSON.parse(body.toString("utf8") || "{}");
  for (const name of ["latency_s", "rate_429", "rate_unregistered", "retry_after_s"]) {
    if (name in cfg) config[name] = Number(cfg[name]);
  }
  if ("throttle_first" in cfg) config.throttle_first = Math.trunc(Number(cfg.throttle_first));
  if ("dead_tokens" in cfg) config.dead_tokens = new Set(cfg.dead_tokens);
  if (cfg.reset_counts) state = freshState();
  return [200, {}, "{}"];
}

function handle(method, urlPath, headers, body) {
  if (method === "POST" && urlPath === "/token") return token(body);
  if (method === "POST" && urlPath === sendPath) return send(headers, body);
  if (method === "GET" && urlPath.startsWith("/_stats")) return [200, {}, JSON.stringify(snapshot(!urlPath.includes("tokens=0")))];
  if (method === "POST" && urlPath === "/_config") return configure(body);
  return fcmError(404, "NOT_FOUND", "Unknown path");
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on("stream", (stream, headers) => {
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("error", () => {});
  stream.on("end", () => {
    const method = headers[":method"];
    const urlPath = headers[":path"] || "";
    const body = Buffer.concat(chunks);
    const reply = () => {
      if (stream.destroyed || stream.closed) return;
      let status, extra, out;
      try {
        [status, extra, out] = handle(method, urlPath, headers, body);
      } catch {
        [status, extra, out] = fcmError(400, "INVALID_ARGUMENT", "Bad request");
      }
      stream.respond({ ":status": status, "content-type": "application/json", ...extra });
      stream.end(out);
    };
    if (config.latency_s > 0 && urlPath.startsWith("/v1/")) setTimeout(reply, config.latency_s * 1000);
    else reply();
  });
});

server.listen(Number(args.port), "127.0.0.1", () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  tokenUri = `${url}/token`;
  const pem = privateKey.export({ type: "pkcs8", format: "pem" });
  const credentialsFile = path.join(args.dir, "fcm-service-account.json");
  fs.mkdirSync(args.dir, { recursive: true });
  const info = {
    type: "service_account",
    project_id: args.project,
    private_key_id: crypto.randomBytes(8).toString("hex"),
    private_key: pem,
    client_email: `push@${args.project}.iam.gserviceaccount.com`,
    token_uri: tokenUri,
  };
  fs.writeFileSync(credentialsFile, JSON.stringify(info), { mode: 0o600 });
  process.stdout.write(JSON.stringify({ url, credentials_file: credentialsFile, server: "node" }) + "\n");
});

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
