// MCP scenarios against a running `floh serve`, driven by tests/e2e/mcp.rs
// with the official TypeScript SDK as the client.
//
//   node scenarios.mjs <scenario> <http|stdio|modern>
//
// `http` is Streamable HTTP with @modelcontextprotocol/sdk (2025 revisions),
// `stdio` launches `floh mcp` with the same SDK, `modern` is the
// @modelcontextprotocol/client package pinned to the stateless 2026-07-28
// revision. Environment: FLOH_SERVER, FLOH_ADMIN_TOKEN, FLOH_EXECUTOR_TOKEN,
// FLOH_BIN, UPSTREAM_URL, UPSTREAM_SECRET, AGENT_CONNECTOR.
// Prints one JSON line of facts for the Rust side; any failed assertion
// exits non-zero with the reason on stderr.

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [scenario, mode] = process.argv.slice(2);
const env = process.env;
const SERVER = env.FLOH_SERVER;
const UPSTREAM = env.UPSTREAM_URL;
const SECRET = env.UPSTREAM_SECRET;
const suffix = mode;
const facts = { scenario, mode };
// Every result any tool or resource returned, for the secret check.
const seen = [];

async function connect(token) {
  if (mode === "modern") {
    const v2 = await import("@modelcontextprotocol/client");
    const client = new v2.Client(
      { name: "floh-e2e-modern", version: "1.0.0" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    const transport = new v2.StreamableHTTPClientTransport(new URL(`${SERVER}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    facts.protocolVersion = client.getNegotiatedProtocolVersion();
    return client;
  }
  const client = new Client({ name: "floh-e2e", version: "1.0.0" });
  let transport;
  if (mode === "http") {
    transport = new StreamableHTTPClientTransport(new URL(`${SERVER}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
  } else {
    transport = new StdioClientTransport({
      command: env.FLOH_BIN,
      args: ["mcp"],
      env: { ...env, FLOH_SERVER: SERVER, FLOH_TOKEN: token, RUST_LOG: "warn" },
      stderr: "pipe",
    });
  }
  await client.connect(transport);
  facts.protocolVersion = transport.protocolVersion ?? client.getServerVersion()?.version;
  return client;
}

async function call(client, name, args, options = {}) {
  // The 2.x client takes the options second.
  const result = mode === "modern"
    ? await client.callTool({ name, arguments: args }, options)
    : await client.callTool({ name, arguments: args }, undefined, options);
  seen.push(result);
  return result;
}

function ok(result) {
  assert.ok(!result.isError, `expected success: ${JSON.stringify(result).slice(0, 2000)}`);
  assert.ok(result.structuredContent, "structuredContent");
  return result.structuredContent;
}

// Errors carry the API's {"error": {code, message}} (plus details) as the
// JSON text of their content: structuredContent is for successes only.
function failed(result, code) {
  assert.equal(result.isError, true, `expected an error: ${JSON.stringify(result).slice(0, 2000)}`);
  const body = JSON.parse(result.content[0].text);
  assert.equal(body.error?.code, code, JSON.stringify(result).slice(0, 2000));
  assert.ok(body.error.message.length > 0);
  return body;
}

// Lets a connector created through MCP reach the loopback upstream (the
// test server refuses private destinations, like a production one).
function loopback(definition) {
  return { ...definition, allowedNetworks: ["127.0.0.0/8"] };
}

// 1. The spec's example workflow from the OpenAPI side.
async function fromOpenApi(client) {
  const tools = await client.listTools();
  facts.tools = tools.tools.map((t) => t.name).sort();
  const spec = await (await fetch(`${UPSTREAM}/openapi.yaml`)).text();
  const draft = ok(await call(client, "parse_openapi_spec", { spec, baseUrl: UPSTREAM }));
  assert.equal(draft.specVersion, "3.0");
  assert.ok(draft.definition.configSchema.commands.listContacts, JSON.stringify(draft.definition.configSchema));
  assert.match(draft.summary, /listContacts/);
  assert.ok(draft.skipped.some((s) => s.operation.includes("TRACE")), JSON.stringify(draft.skipped));
  assert.deepEqual(draft.warnings, [], "a spec with a bearer scheme leaves nothing to set");
  assert.equal(draft.definition.configSchema.connectionConfig.baseUrl.default, UPSTREAM);
  assert.equal(draft.definition.configSchema.connectionConfig.bearerToken.secret, true);
  const name = `acme-crm-oas-${suffix}`;
  const created = ok(await call(client, "create_connector", {
    definition: loopback(draft.definition),
    name,
    config: { baseUrl: UPSTREAM, bearerToken: SECRET },
  }));
  assert.equal(created.connector.name, name);
  assert.equal(created.connector.config.bearerToken, "***");
  const tested = ok(await call(client, "test_connector", { connector: name }));
  assert.equal(tested.success, true);
  assert.equal(tested.command, "test");
  const listed = ok(await call(client, "execute_connector_command", {
    connector: name,
    command: "listContacts",
    params: { limit: 2 },
  }));
  assert.equal(listed.success, true);
  assert.deepEqual(listed.data, [{ id: 1, name: "Ada Lovelace" }, { id: 2, name: "Grace Hopper" }]);
  assert.equal(listed.httpCalls[0].status, 200);
  assert.ok(listed.durationMs >= 0 && listed.executionId);
  const one = ok(await call(client, "execute_connector_command", {
    connector: name,
    command: "getContact",
    params: { id: "2" },
  }));
  assert.equal(one.data.name, "Grace Hopper");
  // The upstream's 404 comes back as an error the model can read.
  const missing = failed(await call(client, "execute_connector_command", {
    connector: name, command: "getContact", params: { id: "99" },
  }), "COMMAND_FAILED");
  assert.match(missing.error.message, /404/);
  assert.equal(missing.execution.success, false);
  // Unknown things are tool errors with the API's codes, not crashes.
  failed(await call(client, "execute_connector_command", { connector: "no-such", command: "x" }), "CONNECTOR_NOT_FOUND");
  failed(await call(client, "execute_connector_command", { connector: name, command: "nope" }), "UNKNOWN_COMMAND");
  failed(await call(client, "execute_connector_command", { connector: name, command: "getContact", params: {} }), "INVALID_PARAMS");
  failed(await call(client, "parse_openapi_spec", { spec: "not: [an openapi" }), "INVALID_SPEC");
  failed(await call(client, "create_connector", { definition: { nonsense: true } }), "INVALID_BODY");
  failed(await call(client, "get_connector", {}), "INVALID_ARGUMENTS");
  const got = ok(await call(client, "get_connector", { connector: name }));
  assert.equal(got.connector.config.bearerToken, "***");
  const all = ok(await call(client, "list_connectors", { q: "acme" }));
  assert.ok(all.connectors.some((c) => c.name === name && c.commands.includes("listContacts")));
  const types = ok(await call(client, "list_connector_types", {}));
  assert.ok(types.types.some((t) => t.name === "http"), JSON.stringify(types).slice(0, 500));
}

const ENDPOINTS = [
  {
    command: "listContacts", method: "GET", path: "/contacts", description: "List contacts",
    params: [{ name: "limit", location: "query", type: "integer", description: "At most this many" }],
  },
  {
    command: "getContact", method: "GET", path: "/contacts/{id}", description: "One contact",
    params: [{ name: "id", location: "path", type: "string", description: "The contact's id" }],
  },
  {
    command: "createContact", method: "POST", path: "/contacts", description: "Create a contact",
    params: [
      { name: "name", location: "body", type: "string", required: true, description: "Full name" },
      { name: "email", location: "body", type: "string", description: "E-mail address" },
    ],
  },
];

// 2. The same from a description of three endpoints with bearer auth.
async function fromDescription(client) {
  await client.listTools();
  const name = `acme-crm-gen-${suffix}`;
  const request = {
    name,
    description: "Acme CRM contacts",
    baseUrl: UPSTREAM,
    auth: { kind: "bearer" },
    endpoints: ENDPOINTS,
  };
  const generated = ok(await call(client, "generate_connector_script", request));
  assert.equal(generated.ok, true, JSON.stringify(generated.diagnostics));
  assert.equal(generated.generated, true);
  assert.equal(generated.definition.executionModel, "script");
  assert.deepEqual(Object.keys(generated.definition.configSchema.commands).sort(),
    ["createContact", "getContact", "listContacts", "test"]);
  assert.equal(generated.definition.configSchema.connectionConfig.bearerToken.secret, true);
  const again = ok(await call(client, "generate_connector_script", request));
  assert.equal(JSON.stringify(again), JSON.stringify(generated), "generation is deterministic");
  facts.generatedScriptBytes = generated.definition.scriptSource.length;
  facts.generatedDefinition = generated.definition;
  ok(await call(client, "create_connector", {
    definition: loopback(generated.definition),
    config: { baseUrl: UPSTREAM, bearerToken: SECRET },
  }));
  const listed = ok(await call(client, "execute_connector_command", {
    connector: name, command: "listContacts", params: { limit: 1 },
  }));
  assert.deepEqual(listed.data, [{ id: 1, name: "Ada Lovelace" }]);
  const made = ok(await call(client, "execute_connector_command", {
    connector: name, command: "createContact", params: { name: "Katherine Johnson", email: "kj@example.com" },
  }));
  assert.deepEqual(made.data, { id: 3, name: "Katherine Johnson", email: "kj@example.com" });
  // A script of the client's own is checked, not generated over.
  const own = ok(await call(client, "generate_connector_script", {
    ...request,
    script: "function listContacts() { return { success: true }; }\nfunction test() { return { success: true }; }",
  }));
  assert.equal(own.generated, false);
  assert.equal(own.ok, false);
  assert.deepEqual(own.diagnostics.map((d) => d.code).sort(), ["COMMAND_NOT_DEFINED", "COMMAND_NOT_DEFINED"]);
  // Free text only: an error with what is missing, a skeleton and the reference.
  const vague = failed(await call(client, "generate_connector_script", {
    name: "vague", description: "a connector for the Acme CRM API",
  }), "MISSING_ENDPOINTS");
  assert.ok(vague.missing.some((m) => m.startsWith("endpoints")));
  assert.match(vague.skeleton, /function test\(\)/);
  assert.match(vague.scriptApiReference, /floh\.http\.get/);
}

// 3. update_connector_script: a syntax error saves nothing; a fix runs.
async function updateScript(client) {
  await client.listTools();
  const name = `versioned-${suffix}`;
  ok(await call(client, "create_connector", {
    definition: {
      name,
      executionModel: "script",
      scriptSource: "function hello() { return { success: true, data: { version: 1 } }; }\nfunction test() { return { success: true }; }",
      configSchema: { connectionConfig: {}, commands: { hello: { params: [] }, test: { params: [] } } },
    },
  }));
  const broken = failed(await call(client, "update_connector_script", {
    connector: name,
    script: "function hello() {\n  return { success: true, data: { version: 2 } ;\n}\n",
  }), "SCRIPT_CHECK_FAILED");
  const diagnostic = broken.diagnostics[0];
  assert.equal(diagnostic.code, "SCRIPT_SYNTAX");
  assert.equal(diagnostic.line, 2, JSON.stringify(diagnostic));
  assert.ok(diagnostic.column > 0, JSON.stringify(diagnostic));
  facts.syntaxError = diagnostic;
  const still = ok(await call(client, "execute_connector_command", { connector: name, command: "hello" }));
  assert.deepEqual(still.data, { version: 1 }, "nothing was saved");
  const fixed = ok(await call(client, "update_connector_script", {
    connector: name,
    script: "function hello() { return { success: true, data: { version: 2 } }; }\nfunction bye() { return { success: true, data: 'bye' }; }\nfunction test() { return { success: true }; }",
    commands: { hello: { params: [] }, bye: { params: [], description: "Say goodbye" }, test: { params: [] } },
  }));
  assert.deepEqual(fixed.commandsAdded, ["bye"]);
  assert.deepEqual(fixed.commandsRemoved, []);
  const now = ok(await call(client, "execute_connector_command", { connector: name, command: "hello" }));
  assert.deepEqual(now.data, { version: 2 });
  assert.equal(ok(await call(client, "execute_connector_command", { connector: name, command: "bye" })).data, "bye");
  // A declared command the script does not define is refused too.
  const undefinedCommand = failed(await call(client, "update_connector_script", {
    connector: name,
    script: "function hello() { return { success: true }; }",
  }), "SCRIPT_CHECK_FAILED");
  assert.ok(undefinedCommand.diagnostics.some((d) => d.code === "COMMAND_NOT_DEFINED" && d.message.includes("bye")));
  // Progress while a long command runs, when asked for.
  ok(await call(client, "create_connector", {
    definition: loopback({
      name: `slow-${suffix}`,
      executionModel: "script",
      scriptSource: "function wait() { var r = floh.http.get(floh.config.baseUrl + '/slow'); return { success: r.status === 200, data: r.body }; }\nfunction test() { return { success: true }; }",
      configSchema: { connectionConfig: { baseUrl: { type: "string" } }, commands: { wait: { params: [] }, test: { params: [] } } },
    }),
    config: { baseUrl: UPSTREAM },
  }));
  const progress = [];
  const slow = ok(await call(client, "execute_connector_command", { connector: `slow-${suffix}`, command: "wait" }, {
    onprogress: (p) => progress.push(p),
    timeout: 60000,
  }));
  assert.deepEqual(slow.data, { slow: true });
  assert.ok(progress.length >= 1, "progress notifications");
  assert.match(progress[0].message, /running/);
  facts.progressNotifications = progress.length;
  // Cancelling stops waiting at once and leaves the session usable.
  const controller = new AbortController();
  const started = Date.now();
  const cancelled = call(client, "execute_connector_command", { connector: `slow-${suffix}`, command: "wait" }, {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort("the user changed their mind"), 300);
  await assert.rejects(cancelled);
  assert.ok(Date.now() - started < 2500, "cancelled promptly");
  ok(await call(client, "list_connectors", {}));
}

// 4. Roles, authentication and secrets.
async function access(client) {
  const admin = (await client.listTools()).tools;
  assert.equal(admin.length, 9);
  for (const tool of admin) {
    assert.equal(tool.inputSchema.type, "object");
    assert.equal(tool.outputSchema?.type, "object", tool.name);
    assert.ok(!JSON.stringify(tool.inputSchema).includes("$ref"), tool.name);
    assert.ok(tool.description.length > 80, tool.name);
    assert.ok(tool.annotations && typeof tool.annotations.readOnlyHint === "boolean", tool.name);
  }
  const name = `secretive-${suffix}`;
  const created = ok(await call(client, "create_connector", {
    definition: loopback({
      name,
      executionModel: "script",
      scriptSource: "function reveal() { floh.log.info('key is ' + floh.config.apiKey); var r = floh.http.get(floh.config.baseUrl + '/echo-auth', {Authorization: 'Bearer ' + floh.config.apiKey}); return { success: true, data: { status: r.status } }; }\nfunction test() { return { success: true }; }",
      configSchema: {
        connectionConfig: { baseUrl: { type: "string" }, apiKey: { type: "string", secret: true, required: true } },
        commands: { reveal: { params: [] }, test: { params: [] } },
      },
    }),
    config: { baseUrl: UPSTREAM, apiKey: SECRET },
  }));
  assert.equal(created.connector.config.apiKey, "***");
  const revealed = ok(await call(client, "execute_connector_command", { connector: name, command: "reveal" }));
  assert.equal(revealed.data.status, 200, "the upstream got the real key");
  ok(await call(client, "get_connector", { connector: name }));
  const resources = await client.listResources();
  seen.push(resources);
  assert.ok(resources.resources.some((r) => r.uri === "floh://script-api/reference"));
  assert.ok(resources.resources.some((r) => r.uri === `floh://connectors/${name}`));
  const reference = await client.readResource({ uri: "floh://script-api/reference" });
  assert.match(reference.contents[0].text, /floh\.http/);
  const definition = await client.readResource({ uri: `floh://connectors/${name}` });
  seen.push(definition);
  assert.match(definition.contents[0].text, /reveal/);
  await assert.rejects(client.readResource({ uri: "floh://connectors/no-such-connector" }));

  // An executor sees and may call only the read, test and execute tools.
  const executor = await connect(env.FLOH_EXECUTOR_TOKEN);
  const visible = (await executor.listTools()).tools.map((t) => t.name).sort();
  facts.executorTools = visible;
  assert.deepEqual(visible, ["execute_connector_command", "get_connector", "list_connector_types", "list_connectors", "test_connector"]);
  for (const tool of ["create_connector", "update_connector_script", "parse_openapi_spec", "generate_connector_script"]) {
    const refused = await executor.callTool({ name: tool, arguments: {} });
    seen.push(refused);
    failed(refused, "FORBIDDEN");
  }
  const executed = await executor.callTool({ name: "execute_connector_command", arguments: { connector: name, command: "reveal" } });
  seen.push(executed);
  ok(executed);
  await executor.close();

  // No token, or a wrong one: refused.
  if (mode === "stdio") {
    const bad = new Client({ name: "floh-e2e", version: "1.0.0" });
    await assert.rejects(bad.connect(new StdioClientTransport({
      command: env.FLOH_BIN, args: ["mcp"],
      env: { ...env, FLOH_SERVER: SERVER, FLOH_TOKEN: "floh_wrong", RUST_LOG: "warn" }, stderr: "pipe",
    })));
  } else {
    const bare = await fetch(`${SERVER}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(bare.status, 401);
    assert.match(bare.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await bare.json()).error.code, "UNAUTHORIZED");
    const wrong = new Client({ name: "floh-e2e", version: "1.0.0" });
    await assert.rejects(wrong.connect(new StreamableHTTPClientTransport(new URL(`${SERVER}/mcp`), {
      requestInit: { headers: { Authorization: "Bearer floh_wrong" } },
    })));
  }
}

// 5. A connector served by an on-premise agent, executed like any other.
async function agent(client) {
  await client.listTools();
  const name = env.AGENT_CONNECTOR;
  const listed = ok(await call(client, "list_connectors", {}));
  assert.ok(listed.connectors.some((c) => c.name === name));
  const result = ok(await call(client, "execute_connector_command", {
    connector: name, command: "fetch", params: { path: "/contacts" },
  }));
  assert.equal(result.success, true);
  assert.equal(result.data.length, 2, JSON.stringify(result));
  assert.match(JSON.stringify(result.logs), /\*\*\*/);
  const tested = ok(await call(client, "test_connector", { connector: name }));
  assert.equal(tested.success, true);
}

const scenarios = { "from-openapi": fromOpenApi, "from-description": fromDescription, "update-script": updateScript, access, agent };

const client = await connect(env.FLOH_ADMIN_TOKEN);
try {
  await scenarios[scenario](client);
  const everything = JSON.stringify(seen);
  assert.ok(!everything.includes(SECRET), "a secret appeared in a tool result or resource");
  facts.results = seen.length;
} finally {
  await client.close();
}
process.stdout.write(`${JSON.stringify(facts)}\n`);
