// Storage for the test authorization server (tests/oauth/provider.mjs): an
// oidc-provider adapter over one Map, and the test-admin operations on it.
//
// Why not oidc-provider's own memory adapter: it is an LRU capped at 1000
// entries, so a load test that issues many tokens would see live refresh
// tokens evicted and refused with a spurious `invalid_grant`; and it cannot
// list what it holds, which "revoke every grant" and "expire every access
// token" need. The OAuth logic stays oidc-provider's; this only stores.

/** Everything stored, by `${model}:${id}`: `{ payload, expiresAt }` (ms). */
const entries = new Map();

/** Every access and refresh token ever issued (ids are the token values
 * of opaque tokens), for tests that check Floh never shows one. */
const issued = new Set();

let lastSweep = Date.now();

/** Drop expired entries now and then, so a long load test stays small. */
function sweepExpired() {
  const now = Date.now();
  if (now - lastSweep < 10_000) {
    return;
  }
  lastSweep = now;
  for (const [key, entry] of entries) {
    if (entry.expiresAt <= now) {
      entries.delete(key);
    }
  }
}

function live(key) {
  const entry = entries.get(key);
  if (!entry) {
    return undefined;
  }
  if (entry.expiresAt <= Date.now()) {
    entries.delete(key);
    return undefined;
  }
  return entry.payload;
}

function* payloadsOf(model) {
  const prefix = `${model}:`;
  for (const [key, entry] of entries) {
    if (key.startsWith(prefix)) {
      yield [key, entry.payload];
    }
  }
}

/** The adapter oidc-provider instantiates once per model name. */
export class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    sweepExpired();
    if (this.model === "AccessToken" || this.model === "RefreshToken") {
      issued.add(id);
    }
    const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : Infinity;
    entries.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    return live(this.key(id));
  }

  async findByUid(uid) {
    for (const [key, payload] of payloadsOf(this.model)) {
      if (payload.uid === uid) {
        return live(key);
      }
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [key, payload] of payloadsOf(this.model)) {
      if (payload.userCode === userCode) {
        return live(key);
      }
    }
    return undefined;
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) {
      payload.consumed = Math.floor(Date.now() / 1000);
    }
  }

  async destroy(id) {
    entries.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, payload] of payloadsOf(this.model)) {
      if (payload.grantId === grantId) {
        entries.delete(key);
      }
    }
  }
}

/** Models whose entries belong to a grant and die with it. */
const GRANT_MEMBERS = ["AccessToken", "RefreshToken", "AuthorizationCode"];

/**
 * What a person revoking the app at the provider causes: every grant and
 * every token issued under one is gone, so the next refresh answers
 * `invalid_grant`. Sign-in sessions stay (the person is still signed in),
 * but the next authorization asks for consent again. Returns how many
 * grants were revoked.
 */
/** The value of every access and refresh token issued since start. */
export function issuedTokens() {
  return [...issued];
}

export function revokeEveryGrant() {
  let revoked = 0;
  for (const [key] of payloadsOf("Grant")) {
    entries.delete(key);
    revoked += 1;
  }
  for (const model of GRANT_MEMBERS) {
    for (const [key] of payloadsOf(model)) {
      entries.delete(key);
    }
  }
  return revoked;
}

/**
 * Destroy every access token, as if they had all expired: the resource
 * answers 401 and a client must refresh. Returns how many were destroyed.
 */
export function destroyEveryAccessToken() {
  let destroyed = 0;
  for (const [key] of payloadsOf("AccessToken")) {
    entries.delete(key);
    destroyed += 1;
  }
  return destroyed;
}
