// Where the API lives. Empty: the same origin as the site (what `make dev` serves).
// `make site-config API_BASE_URL=https://api.example.com` rewrites this file for a deployment.
export const config = { apiBaseUrl: "" };
