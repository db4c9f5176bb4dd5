// The benchmark's peer: panva's oidc-provider (OpenID Certified), configured like idp.
//
// Started by bench/run.py with BENCH_PEER_CONFIG naming a JSON file:
//   { "port": 0, "issuer": "http://127.0.0.1:PORT",
//     "clients": [ { client_id, client_secret, redirect_uris, id_token_signed_response_alg,
//                    grant_types, scope } ],
//     "citizens": [ { "id": "...", "id_number": "...", "password_hash": "$argon2id$...",
//                     "name": "...", "birthdate": "...", "gender": "...", "phone": "..." } ],
//     "secret": "random string: cookie keys, CSRF and pairwise keys are derived from it" }
//
// What is equivalent to idp, and how (see ../README.md, "Equivalence"):
// - confidential clients with client_secret_basic; PKCE S256 required for every client;
// - RS256 and ES256 signing keys generated at start (RSA-2048, P-256), ID token alg per client;
// - in-memory adapter (oidc-provider's default MemoryAdapter), one process;
// - pairwise `sub` (HMAC-SHA256 of sector and account id, as idp.oauth.claims.pairwise_sub);
// - TTLs as idp's defaults (code 60 s, access/ID token 600 s, session 12 h, interaction 15 min);
// - no consent page for the benchmark's first-party clients (idp: `--first-party`), through
//   oidc-provider's documented `loadExistingGrant` hook ("skip consent" recipe);
// - a login interaction of our own instead of devInteractions: a form with a CSRF token
//   (HMAC of the interaction uid), ID number + password checked against an argon2id hash
//   with idp's parameters (t=3, m=64 MiB, p=4: the PHC string carries them), and a per-number
//   attempt counter in memory (idp keeps its brute-force counters in Redis);
// - client_credentials, introspection, and JWT access tokens through resource indicators
//   (RFC 8707): resource `urn:bench:opaque` gets opaque tokens, `urn:bench:jwt` ES256 JWTs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import querystring from 'node:querystring';

import argon2 from 'argon2';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.env.BENCH_PEER_CONFIG, 'utf8'));
const secret = config.secret;
const derive = (label) => crypto.createHmac('sha256', secret).update(label).digest();
const csrfKey = derive('csrf');
const pairwiseKey = derive('pairwise');

// Keys generated at start, like a fresh idp instance's first signing keys.
function generateJwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}` };
}
const jwks = {
  keys: [
    generateJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    generateJwk('rsa', { modulusLength: 2048 }, 'RS256'),
  ],
};

const accounts = new Map(); // account id -> citizen
const byIdNumber = new Map(); // ID number -> citizen (idp: blind index lookup in PostgreSQL)
for (const citizen of config.citizens) {
  accounts.set(citizen.id, citizen);
  byIdNumber.set(citizen.id_number.toUpperCase(), citizen);
}

const RESOURCES = {
  'urn:bench:opaque': { scope: 'api', audience: 'urn:bench:opaque', accessTokenFormat: 'opaque', accessTokenTTL: 600 },
  'urn:bench:jwt': {
    scope: 'api', audience: 'urn:bench:jwt', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } },
  },
};

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    token_endpoint_auth_method: 'client_secret_basic',
    response_types: client.grant_types.includes('authorization_code') ? ['code'] : [],
    subject_type: 'pairwise',
    ...client,
  })),
  jwks,
  cookies: { keys: [derive('cookies').toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'birthdate', 'gender'],
    phone: ['phone_number', 'phone_number_verified'],
    acr: null,
    amr: null,
    auth_time: null,
    sid: null,
  },
  scopes: ['openid', 'profile', 'phone', 'offline_access', 'api'],
  acrValues: ['urn:idp:acr:low'],
  subjectTypes: ['pairwise'],
  // As idp.oauth.claims.pairwise_sub: HMAC-SHA256 over sector host and internal id.
  pairwiseIdentifier(ctx, accountId, client) {
    return crypto.createHmac('sha256', pairwiseKey)
      .update(`${client.sectorIdentifier.toLowerCase()}\0${accountId}`)
      .digest('base64url');
  },
  pkce: { required: () => true },
  responseTypes: ['code'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No resource: an opaque access token for UserInfo (the code flow's tokens).
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo(ctx, resourceIndicator) {
        const info = RESOURCES[resourceIndicator];
        if (!info) throw new errors.InvalidTarget();
        return info;
      },
    },
  },
  ttl: {
    AuthorizationCode: 60,
    AccessToken: 600,
    ClientCredentials: 600,
    IdToken: 600,
    Interaction: 15 * 60,
    Session: 12 * 3600,
    Grant: 12 * 3600,
  },
  async findAccount(ctx, id) {
    const citizen = accounts.get(id);
    if (!citizen) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: citizen.name,
          birthdate: citizen.birthdate,
          gender: citizen.gender,
          phone_number: citizen.phone,
          phone_number_verified: true,
        };
      },
    };
  },
  // "Skip consent" recipe: the benchmark's clients are first-party (idp: --first-party).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.client.scope || 'openid profile phone');
    await grant.save();
    return grant;
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  clientBasedCORS: () => false,
});

// --- the login interaction (idp: adapters/website.py) ----------------------------------

const csrfFor = (uid) => crypto.createHmac('sha256', csrfKey).update(uid).digest('base64url');
const attempts = new Map(); // ID number -> attempts in flight or failed (idp: ratelimit.py)
const LOCK_AFTER = 10;

function escape(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<input type="hidden" name="csrf_token" value="${csrfFor(uid)}">
<label>ID number <input name="id_number" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></main></body></html>`;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return querystring.parse(Buffer.concat(chunks).toString('utf8'));
}

function sameToken(a, b) {
  const x = Buffer.from(String(a || ''));
  const y = Buffer.from(String(b || ''));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

async function interaction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return send(res, 400, '<p>This sign-in has expired.</p>');
  }
  if (details.uid !== uid || details.prompt.name !== 'login') {
    return send(res, 400, '<p>Unexpected interaction.</p>');
  }
  if (req.method === 'GET' && !action) return send(res, 200, loginPage(uid));
  if (req.method !== 'POST' || action !== 'login') return send(res, 405, '');
  const form = await readForm(req);
  if (!sameToken(form.csrf_token, csrfFor(uid))) return send(res, 400, loginPage(uid, 'Out of date form.'));
  const number = String(form.id_number || '').trim().toUpperCase();
  const count = (attempts.get(number) || 0) + 1;
  if (count > LOCK_AFTER) return send(res, 429, loginPage(uid, 'Too many attempts.'));
  attempts.set(number, count);
  const citizen = byIdNumber.get(number);
  let ok = false;
  try {
    ok = citizen ? await argon2.verify(citizen.password_hash, String(form.password || '')) : false;
  } catch {
    ok = false;
  }
  if (!ok) return send(res, 401, loginPage(uid, 'Wrong ID number or password.'));
  attempts.delete(number);
  const result = { login: { accountId: citizen.id, acr: 'urn:idp:acr:low', amr: ['pwd'] } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/;

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  const match = INTERACTION.exec(path);
  if (match) {
    interaction(req, res, match[1], match[2]).catch((err) => {
      console.error(err);
      if (!res.headersSent) send(res, 500, '<p>Error</p>');
    });
    return;
  }
  if (path === '/healthz') return send(res, 200, 'ok');
  return callback(req, res);
});
// As gunicorn's keepalive (idp.commands.serve.GUNICORN_DEFAULTS: 5 s).
server.keepAliveTimeout = 5000;

server.listen(config.port, '127.0.0.1', () => {
  console.log(`peer: oidc-provider ${process.env.npm_package_dependencies_oidc_provider || ''} on ${config.issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
