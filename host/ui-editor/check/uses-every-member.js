// Type-checked against floh.d.ts by `just check-ui-editor` (tsc --strict):
// a script that uses every member of the script API the way the engine
// accepts it, and a few uses the engine refuses.

/** @type {FlohCommand} */
function listContacts(params) {
  const response = floh.http.get(floh.config.baseUrl + "/contacts?limit=" + params.limit, {
    Authorization: "Bearer " + floh.config.apiKey,
    "X-Optional": undefined,
  });
  floh.http.post(floh.config.baseUrl + "/contacts", { name: "Ada" });
  floh.http.put(floh.config.baseUrl + "/contacts/1", '{"name":"Ada"}', { "content-type": "application/json" });
  floh.http.patch(floh.config.baseUrl + "/contacts/1", new Uint8Array([1, 2]));
  floh.http.delete(floh.config.baseUrl + "/contacts/1");
  floh.http.head(floh.config.baseUrl + "/contacts/1").headers["etag"];
  floh.http.options(floh.config.baseUrl + "/contacts", { Origin: "https://example.com" });
  floh.http.request("PATCH", floh.config.baseUrl + "/contacts/1", { name: "Ada" }, { "If-Match": "1" });
  floh.http.request("get", floh.config.baseUrl + "/contacts");
  floh.log.trace("trace");
  floh.log.debug("status", response.status);
  floh.log.info({ headers: response.headers["content-type"] });
  floh.log.warn("warn");
  floh.log.error(new Error("error"));
  const token = floh.cache.get("token");
  if (token === undefined) floh.cache.set("token", "t", 60);
  floh.cache.delete("token");
  const project = floh.variables.project_id;
  if (response.status !== 200) {
    return { success: false, error: "HTTP " + response.status };
  }
  return { success: true, data: response.body, outputVariables: { project } };
}

/** @returns {Promise<ConnectorResult>} */
async function failing() {
  try {
    floh.http.get("https://example.com");
  } catch (error) {
    const code = /** @type {FlohHttpError} */ (error).code;
    return { success: false, error: code };
  }
  return { success: true };
}

function refused() {
  // @ts-expect-error the engine has no TRACE
  floh.http.request("TRACE", "https://example.com");
  // @ts-expect-error head takes no body
  floh.http.head("https://example.com", "body", {});
  // @ts-expect-error get takes no body
  floh.http.get("https://example.com", "body", {});
  // @ts-expect-error success must be a boolean
  /** @type {ConnectorResult} */ const result = { success: "yes" };
  return result;
}

listContacts({ limit: 1 });
failing();
refused();
