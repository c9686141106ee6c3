// A real OpenID Provider for the tests (oidc-provider, OpenID Certified), on loopback; and for
// development, the same one in Compose's `dev` profile (docker-compose.yml, Dockerfile here).
// Environment: PORT, AUDIENCE (the API's resource indicator), ACCOUNTS (JSON: sub → claims),
// DOCS_REDIRECT_URI (Swagger UI's redirect, for the /docs sign-in); HOST (the address to listen
// on, 127.0.0.1 unless told) and ISSUER (its URL as browsers and the API reach it, by default
// http://127.0.0.1:PORT). Prints "ready" when listening. Its clients' secrets, its cookie key and
// its login (any password) are for tests and development only.
//
// Access tokens are JWTs only for a resource server with accessTokenFormat "jwt", which needs
// resource indicators (RFC 8707): the API is that resource, the default one of every request.
// A second resource, OTHER_AUDIENCE, gives tokens meant for another API.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const audience = process.env.AUDIENCE;
const otherAudience = 'https://another-api.example';
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'provider-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [
    // A machine: client credentials, its own subject.
    {
      client_id: 'machine',
      client_secret: 'machine-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
    // A front-end's server side: authorization code (PKCE too, as oidc-provider requires).
    {
      client_id: 'portal-app',
      client_secret: 'portal-secret',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      response_types: ['code'],
    },
    // Swagger UI in /docs: a public client, authorization code with PKCE.
    {
      client_id: 'pdi-docs',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      redirect_uris: [process.env.DOCS_REDIRECT_URI || 'http://127.0.0.1/docs/oauth2-redirect'],
      response_types: ['code'],
    },
  ],
  async findAccount(_ctx, sub) {
    if (!accounts[sub]) return undefined;
    return { accountId: sub, async claims() { return { sub, ...accounts[sub] }; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], siret: ['siret'] },
  scopes: ['openid', 'email', 'profile', 'siret'],
  // What the API reads of a person travels in the access token, as ProConnect's userinfo would.
  async extraTokenClaims(_ctx, token) {
    const account = token.accountId ? accounts[token.accountId] : undefined;
    return account ? { ...account } : undefined;
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf || audience,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, resource) {
        if (resource !== audience && resource !== otherAudience) throw new Error('unknown resource');
        return {
          scope: 'openid email profile siret',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { ClientCredentials: 300, AccessToken: 300 },
  // Cookies over plain http on loopback.
  cookies: { keys: ['test-only-cookie-key'] },
});
provider.proxy = false;
provider.on('server_error', (_ctx, error) => console.error('server_error', error));

// As a container's PID 1, node has no default action for SIGTERM: exit on it, so that
// `docker compose stop` does not wait for its SIGKILL.
process.on('SIGTERM', () => process.exit(0));

provider.listen(port, host, () => {
  process.stdout.write('ready\n');
});
