// TypeScript declarations of the Floh script API: the `floh` global that a
// script connector's commands see, exactly as the host's JavaScript engine
// installs it (plugins/js-engine/src/floh_global.rs).
//
// Use it in your own editor: put this file next to your script and add
// `/// <reference path="floh.d.ts" />` at the top of the script (or list it
// in `files` of a jsconfig.json). A running `floh serve` serves it at
// `/assets/floh.d.ts`.
//
// A script is plain global code (not an ES module). Each declared command is
// a global function of that name; it is called with `floh.params` and must
// return a `ConnectorResult` (or a promise of one, for `async function`).
//
//     function listContacts(params) {
//       const response = floh.http.get(floh.config.baseUrl + '/contacts', {
//         Authorization: 'Bearer ' + floh.config.apiKey,
//       });
//       if (response.status !== 200) {
//         return { success: false, error: 'HTTP ' + response.status };
//       }
//       return { success: true, data: response.body };
//     }

/** Request headers: a plain object of name/value pairs. `undefined` and
 * `null` values are skipped (so `{ Authorization: token ? 'Bearer ' + token :
 * undefined }` works); other values are converted to text. */
interface FlohRequestHeaders {
  [name: string]: string | number | boolean | null | undefined;
}

/** A request body. Strings are sent as they are; `ArrayBuffer`s and
 * `Uint8Array`s as bytes; any other object (and numbers, booleans) as JSON.
 * When no `Content-Type` header is given and the body is JSON (an object, or
 * a string starting with `{` or `[`), `content-type: application/json` is
 * added. `undefined` and `null` send no body. */
type FlohRequestBody =
  | string
  | ArrayBuffer
  | Uint8Array
  | object
  | number
  | boolean
  | null
  | undefined;

/** The methods `floh.http.request` takes (case does not matter). */
type FlohHttpMethod =
  | "GET"
  | "HEAD"
  | "POST"
  | "PUT"
  | "PATCH"
  | "DELETE"
  | "OPTIONS"
  | "get"
  | "head"
  | "post"
  | "put"
  | "patch"
  | "delete"
  | "options";

/** What every `floh.http.*` call returns, whatever the status: a 4xx or 5xx
 * answer is a response, not an exception. */
interface FlohHttpResponse {
  /** The HTTP status code, e.g. `200`. */
  status: number;
  /** The body, parsed as JSON when the response declares a JSON content type
   * (or declares none and starts with `{` or `[`) and parses; otherwise the
   * body as text (invalid UTF-8 replaced). */
  body: any;
  /** Response headers by lower-case name; repeated headers are joined with
   * `", "`. */
  headers: { [name: string]: string };
}

/** Why a `floh.http.*` call threw (the `code` property of the error). */
type FlohHttpErrorCode =
  | "EGRESS_DENIED"
  | "INVALID_REQUEST"
  | "TIMEOUT"
  | "CONNECTION_FAILED"
  | "RESPONSE_TOO_LARGE"
  | "LIMIT_EXCEEDED";

/** The error a `floh.http.*` call throws when there is no response: the
 * egress policy refused the URL, the request was malformed, it timed out,
 * the connection failed, the body was too large or a limit was reached.
 * Its message starts with `floh.http.<method>: `. */
interface FlohHttpError extends Error {
  code: FlohHttpErrorCode;
}

/** `floh.http`: HTTP requests, performed by the host (the sandbox has no
 * network access of its own). Calls are synchronous: they return the
 * response, no `await` needed. Redirects are followed; the egress policy,
 * timeouts and size limits of the host apply; secrets are masked in the
 * execution's trace. Throws a `FlohHttpError` when there is no response. */
interface FlohHttp {
  /** HTTP GET request. */
  get(url: string, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** HTTP POST request. */
  post(url: string, body?: FlohRequestBody, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** HTTP PUT request. */
  put(url: string, body?: FlohRequestBody, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** HTTP PATCH request. */
  patch(url: string, body?: FlohRequestBody, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** HTTP DELETE request. */
  delete(url: string, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** HTTP HEAD request (the response's `body` is empty: read `headers`). */
  head(url: string, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** HTTP OPTIONS request. */
  options(url: string, headers?: FlohRequestHeaders): FlohHttpResponse;
  /** A request with the method given by name, in any case: `GET`, `HEAD`,
   * `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`. Throws a `TypeError` for
   * any other method. */
  request(method: FlohHttpMethod, url: string, body?: FlohRequestBody, headers?: FlohRequestHeaders): FlohHttpResponse;
}

/** `floh.log`: the execution's log, shown in its trace. Arguments are joined
 * with spaces; strings as they are, objects as JSON. Secrets are masked.
 * (`console.log/info/debug/warn/error` write to the same log.) */
interface FlohLog {
  /** Trace-level log. */
  trace(...message: unknown[]): void;
  /** Debug-level log. */
  debug(...message: unknown[]): void;
  /** Info-level log. */
  info(...message: unknown[]): void;
  /** Warning-level log. */
  warn(...message: unknown[]): void;
  /** Error-level log. */
  error(...message: unknown[]): void;
}

/** `floh.cache`: string values kept between executions of this connector
 * (each execution runs in a fresh sandbox), e.g. an OAuth2 access token.
 * Entries are scoped to the connector and its configuration; the host bounds
 * their size and lifetime. */
interface FlohCache {
  /** The value stored under `key`, or `undefined` when there is none or it
   * expired. */
  get(key: string): string | undefined;
  /** Store `value` under `key` for `ttlSeconds` (default 300). Throws a
   * `RangeError` for a negative or non-finite TTL, and an error when the
   * host refuses the entry (too large, too many). */
  set(key: string, value: string, ttlSeconds?: number): void;
  /** Remove the entry under `key`, if any. */
  delete(key: string): void;
}

/** The connector's decrypted connection configuration: the fields its
 * `configSchema` defines, e.g. `floh.config.baseUrl`, `floh.config.apiKey`.
 * A connector with an OAuth2 grant (`configSchema.oauth2`) also gets
 * `floh.config.accessToken`, the current access token, which the host
 * refreshes (the refresh token never reaches the script); send it as
 * `Authorization: Bearer …` and the host renews it once on a 401. */
interface FlohConfig {
  readonly [field: string]: any;
}

/** The parameters of this command invocation (the step's parameters, with
 * the `paramSchema` defaults applied). Also passed as the command function's
 * first argument. */
interface FlohParams {
  [name: string]: any;
}

/** The workflow run's current variables. */
interface FlohVariables {
  [name: string]: any;
}

/** The `floh` global. */
interface Floh {
  /** HTTP requests through the host. */
  readonly http: FlohHttp;
  /** The execution's log. */
  readonly log: FlohLog;
  /** Values kept between executions. */
  readonly cache: FlohCache;
  /** The decrypted connection configuration. */
  readonly config: FlohConfig;
  /** This invocation's parameters. */
  readonly params: FlohParams;
  /** The workflow run's variables. */
  readonly variables: FlohVariables;
}

/** The script API: HTTP, logging, cache, configuration, parameters and
 * variables. */
declare const floh: Floh;

/** What every command function returns. */
interface ConnectorResult {
  /** Whether the command succeeded. Must be a boolean. */
  success: boolean;
  /** The command's output (anything JSON can represent). */
  data?: unknown;
  /** Variables to set on the workflow run (a plain object). */
  outputVariables?: { [name: string]: unknown };
  /** Why it failed; an `Error` contributes its message, anything else its
   * text. */
  error?: string | Error;
}

/** The shape of a command: a global function named like the command. */
type FlohCommand = (
  params: FlohParams,
) => ConnectorResult | Promise<ConnectorResult>;
