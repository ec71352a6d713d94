// A real OpenID Connect provider for the identity tests: npm's `oidc-provider` (certified by the
// OpenID Foundation) on 127.0.0.1, configured from the JSON file named on the command line:
//   {"port", "issuer", "clients": [...], "jwks": {"keys": [...]}, "accounts": {"<login>": {"password", claims...}},
//    "idTokenTtl", "conformIdTokenClaims"}
// Its own sign-in and consent pages (the library's development pages load fonts from the internet;
// these load nothing): a login and password checked against `accounts`, consent given at once.
// Prints "ready <port>" on stdout once it listens.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
  + `<body><h1>${title}</h1>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: cfg.jwks,
  cookies: { keys: ['waypoint-test-provider'] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'locale'],
    email: ['email'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  // scope claims in the ID token, as Entra ID and Keycloak send them (true: in userinfo only)
  conformIdTokenClaims: Boolean(cfg.conformIdTokenClaims),
  pkce: { required: () => true },
  ttl: { IdToken: cfg.idTokenTtl || 3600, Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600 },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out of the provider', `${form}<button id="op-logout" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>`);
      },
      postLogoutSuccessSource: async (ctx) => { ctx.body = page('Signed out of the provider', ''); },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Provider error', `<pre>${esc(out.error)}: ${esc(out.error_description || '')}</pre>`);
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = cfg.accounts[id];
    if (!account) return undefined;
    const { password, ...claims } = account;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

function readForm(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(new URLSearchParams(data)));
  });
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === 'GET' && prompt.name === 'login') {
    res.setHeader('Content-Type', 'text/html');
    res.end(page('Sign in to the provider', `<form method="post" action="/interaction/${uid}">`
      + '<label>Login <input id="op-login" name="login" autocomplete="off"></label>'
      + '<label>Password <input id="op-password" type="password" name="password"></label>'
      + '<button id="op-submit" type="submit">Sign in</button></form>'));
    return;
  }
  if (prompt.name === 'login') {
    const form = await readForm(req);
    const account = cfg.accounts[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      res.statusCode = 401;
      res.setHeader('Content-Type', 'text/html');
      res.end(page('Wrong login or password', `<a href="/interaction/${uid}">Try again</a>`));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
    return;
  }
  // consent: every requested scope and claim, at once (the test provider trusts its one client)
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/html');
      res.end(page('Interaction error', `<pre>${esc(err.message)}</pre>`));
    });
    return;
  }
  callback(req, res);
});
server.listen(cfg.port, '127.0.0.1', () => { console.log(`ready ${server.address().port}`); });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
