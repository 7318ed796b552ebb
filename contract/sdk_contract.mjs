// Contract harness: drives the official StackOne TypeScript SDK (@stackone/stackone-client-ts, pinned in
// package.json) so the Go tests in receiver/stackonereceiver/internal/stackoneapi/sdk_contract_test.go can compare
// the receiver's HTTP client and the bundled fake API with what the SDK really does.
//
// Modes (results are one JSON document on stdout; diagnostics go to stderr):
//
//   node sdk_contract.mjs queries [--fake URL] [--api-key KEY]
//     Starts a capturing HTTP server on 127.0.0.1:0 that answers every request with {"data":[],"next":null},
//     calls stackOne.requestLogs.listLogs once per filter combination and reports the raw query string each
//     call put on the wire. With --fake, replays every combination against that server too and reports whether
//     it accepted it. Also runs a negative control proving the SDK's response validation rejects a bad page.
//
//   node sdk_contract.mjs list --base-url URL --api-key KEY [--page-size N] [--params JSON]
//     Lists /requests/logs through the SDK, following `next` until the last page, and reports every request id.
//     Every page is parsed by the SDK's own zod response schemas; a ResponseValidationError is recorded in
//     schema_errors and makes the exit status 1.
//
// Exit status: 0 when every SDK call that was expected to succeed did, 1 otherwise (the JSON is still printed),
// 2 on bad usage. URL and key may also come from STACKONE_BASE_URL / STACKONE_API_KEY.

import { createRequire } from "node:module";
import http from "node:http";
import process from "node:process";

const require = createRequire(import.meta.url);
const { StackOne } = require("@stackone/stackone-client-ts");
const { HTTPClient } = require("@stackone/stackone-client-ts/lib/http.js");
const { ResponseValidationError } = require(
  "@stackone/stackone-client-ts/sdk/models/errors/responsevalidationerror.js",
);
const { UnifiedLogsPartial$inboundSchema } = require(
  "@stackone/stackone-client-ts/sdk/models/shared/unifiedlogspartial.js",
);
const SDK_VERSION = require("@stackone/stackone-client-ts/package.json").version;

// A cursor with every character that must be percent-encoded in a query value: '+', '/' and '='.
const CURSOR = "eyJrIjoicmVxdWVzdHMi+fQ/AbC/dE+f==";

// Each combination is the exact request object handed to stackOne.requestLogs.listLogs. The Go test holds the
// equivalent CursorQuery for every name; `informational` ones have no receiver equivalent and are only reported.
function combinations() {
  return [
    { name: "account_ids_single", params: { filter: { accountIds: "acc_7f3a9c21d4e8" } } },
    { name: "account_ids_multiple", params: { filter: { accountIds: "acc_7f3a9c21d4e8,acc_19c0e6b2a7f3" } } },
    { name: "providers_single", params: { filter: { providers: "greenhouse" } } },
    { name: "providers_multiple", params: { filter: { providers: "ashby,greenhouse" } } },
    { name: "status_codes_single", params: { filter: { statusCodes: "500" } } },
    { name: "status_codes_multiple", params: { filter: { statusCodes: "400,429,500" } } },
    { name: "start_date_millis", params: { filter: { startDate: new Date("2025-01-02T03:04:05.678Z") } } },
    {
      name: "start_end_date_whole_seconds",
      params: {
        filter: { startDate: new Date("2025-01-02T03:04:05Z"), endDate: new Date("2025-01-03T00:00:00.001Z") },
      },
    },
    { name: "success_false", params: { filter: { success: false } } },
    { name: "success_true", params: { filter: { success: true } } },
    { name: "order_by_direction_page_size", params: { orderBy: "eventDatetime", orderDirection: "asc", pageSize: 100 } },
    // order_by/order_direction also exist inside the filter object; they land on the same flat keys.
    { name: "filter_order_by_direction", params: { filter: { orderBy: "eventDatetime", orderDirection: "asc" }, pageSize: 25 } },
    { name: "next_cursor", params: { next: CURSOR, pageSize: 25 } },
    {
      name: "all_list_filters",
      params: {
        filter: {
          accountIds: "acc_1,acc_2",
          actions: "list,get",
          childResources: "documents,time-off",
          httpMethods: "GET,POST",
          providers: "ashby,greenhouse",
          requestIds: "adbf752f-6457-4ddd-89b3-98ae2252b83b,adbf752f-6457-4ddd-89b3-98ae2252b83c",
          resources: "employees,users",
          services: "hris,ats",
          sourceIds: "key_3f9a1c7e,usr_51c0a9f3",
          sourceTypes: "DASHBOARD,API_KEY",
          sourceValues: "ACCOUNT_TESTER,PRIMARY_API_KEY",
          statusCodes: "200,400",
          subResources: "documents,notes",
          success: true,
          startDate: new Date("2025-01-02T03:04:05.678Z"),
          endDate: new Date("2025-01-09T23:59:59.999Z"),
        },
        orderBy: "eventDatetime",
        orderDirection: "asc",
        pageSize: 100,
      },
    },
    {
      // The combination behind the verbatim request in /work/shared/stackone-api.md.
      name: "shared_doc_example",
      params: {
        filter: {
          accountIds: "acc1,acc2",
          providers: "ashby,greenhouse",
          startDate: new Date("2025-01-02T03:04:05.678Z"),
          statusCodes: "400,500",
        },
        next: "eyJjdXJzb3IiOiJhYmMvKz0ifQ==",
        orderBy: "eventDatetime",
        orderDirection: "asc",
        pageSize: 100,
      },
    },
    {
      // Characters where encodeURIComponent and Go's url.QueryEscape differ (space, !'()*): same decoded value,
      // different bytes. Informational: both are standard form encodings.
      name: "special_characters",
      informational: true,
      params: { filter: { sourceValues: "ACCOUNT TESTER,it's(*)!~" } },
    },
    {
      // The SDK's own docs example sets order_by in the filter and at the top level: two order_by keys.
      name: "order_by_in_filter_and_top_level",
      informational: true,
      params: {
        filter: { orderBy: "service", orderDirection: "asc" },
        orderBy: "duration",
        orderDirection: "asc",
      },
    },
  ];
}

function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) {
        out[a.slice(2, eq)] = a.slice(eq + 1);
      } else {
        out[a.slice(2)] = argv[++i];
      }
    } else {
      out._.push(a);
    }
  }
  return out;
}

// JSON-safe copy of the request params (Dates as ISO strings) so the Go side sees what was asked for.
function plain(v) {
  return JSON.parse(JSON.stringify(v));
}

function describeError(err) {
  if (err == null) return null;
  const out = { name: err.name ?? typeof err, message: String(err.message ?? err) };
  if (typeof err.statusCode === "number") out.status = err.statusCode;
  else if (err.rawResponse?.status) out.status = err.rawResponse.status;
  if (err instanceof ResponseValidationError) {
    out.schema_error = true;
    out.detail = err.pretty();
    out.raw_value = err.rawValue;
  }
  return out;
}

function sdkFor(baseURL, apiKey, seen, onResponse) {
  const httpClient = new HTTPClient();
  httpClient.addHook("beforeRequest", (req) => {
    const u = new URL(req.url);
    seen.push({ method: req.method, path: u.pathname, query: u.search.replace(/^\?/, "") });
  });
  if (onResponse) httpClient.addHook("response", onResponse);
  return new StackOne({
    serverURL: baseURL,
    security: { username: apiKey, password: "" },
    httpClient,
    // The harness must fail fast; the SDK's default retries 429/408 for up to an hour.
    retryConfig: { strategy: "none" },
    timeoutMs: 10000,
  });
}

function startCaptureServer() {
  const received = [];
  let override = null; // one-shot {status, body} for the negative control
  const server = http.createServer((req, res) => {
    const raw = req.url ?? "";
    const q = raw.indexOf("?");
    received.push({
      method: req.method,
      path: q >= 0 ? raw.slice(0, q) : raw,
      query: q >= 0 ? raw.slice(q + 1) : "",
      authorization: req.headers.authorization ?? "",
      accept: req.headers.accept ?? "",
    });
    const answer = override ?? { status: 200, body: '{"data":[],"next":null}' };
    override = null;
    res.writeHead(answer.status, { "Content-Type": "application/json" });
    res.end(answer.body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        setOverride: (o) => {
          override = o;
        },
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

async function runQueries(args) {
  const apiKey = args["api-key"] ?? process.env.STACKONE_API_KEY ?? "contract-key";
  const fakeURL = args.fake ?? null;
  const capture = await startCaptureServer();
  const results = [];
  let failed = false;
  try {
    const seen = [];
    const sdk = sdkFor(capture.url, apiKey, seen);
    for (const c of combinations()) {
      const before = capture.received.length;
      const r = { name: c.name, informational: !!c.informational, params: plain(c.params) };
      try {
        const resp = await sdk.requestLogs.listLogs(c.params);
        r.status = resp.statusCode;
      } catch (err) {
        r.error = describeError(err);
        failed = true;
      }
      const got = capture.received.slice(before);
      if (got.length !== 1) {
        r.error = r.error ?? { name: "HarnessError", message: `expected 1 request, capture server saw ${got.length}` };
        failed = true;
      }
      if (got.length > 0) {
        Object.assign(r, {
          method: got[0].method,
          path: got[0].path,
          query: got[0].query,
          authorization: got[0].authorization,
          accept: got[0].accept,
        });
      }
      results.push(r);
    }

    if (fakeURL) {
      const fakeSeen = [];
      const fakeSDK = sdkFor(fakeURL, apiKey, fakeSeen);
      for (const r of results) {
        const c = combinations().find((x) => x.name === r.name);
        const before = fakeSeen.length;
        try {
          const resp = await fakeSDK.requestLogs.listLogs(c.params);
          r.fake = { status: resp.statusCode, entries: resp.unifiedLogsPaginated?.data?.length ?? 0 };
        } catch (err) {
          r.fake = { error: describeError(err) };
          r.fake.status = r.fake.error.status ?? 0;
        }
        r.fake.query = fakeSeen[before]?.query ?? null;
      }
    }

    // Negative control: a page the SDK's schema must reject (status as a string, event_datetime not a date).
    // If this ever passes, validation is not active and the list run below proves nothing.
    capture.setOverride({
      status: 200,
      body: JSON.stringify({ data: [{ request_id: "bad", status: "500", event_datetime: "yesterday" }], next: null }),
    });
    const control = {};
    try {
      await sdk.requestLogs.listLogs({ pageSize: 1 });
      control.rejected = false;
      failed = true;
    } catch (err) {
      control.rejected = err instanceof ResponseValidationError;
      control.error = describeError(err);
      if (!control.rejected) failed = true;
    }
    emit({ sdk_version: SDK_VERSION, node_version: process.version, combinations: results, validation_control: control });
  } finally {
    await capture.close();
  }
  return failed ? 1 : 0;
}

// Keys of one raw entry that the SDK's list schema does not know (zod strips them silently).
const KNOWN_KEYS = new Set(Object.keys(UnifiedLogsPartial$inboundSchema?._def?.schema?.shape ?? {}));

async function runList(args) {
  const baseURL = args["base-url"] ?? process.env.STACKONE_BASE_URL;
  const apiKey = args["api-key"] ?? process.env.STACKONE_API_KEY;
  if (!baseURL || apiKey == null) {
    process.stderr.write("list: --base-url and --api-key (or STACKONE_BASE_URL / STACKONE_API_KEY) are required\n");
    return 2;
  }
  const pageSize = Number(args["page-size"] ?? 25);
  const extra = args.params ? reviveDates(JSON.parse(args.params)) : {};
  const maxPages = Number(args["max-pages"] ?? 1000);

  const seen = [];
  const dropped = new Set();
  // Record which raw fields the SDK drops, from a clone of each response body (informational).
  const sdk = sdkFor(baseURL, apiKey, seen, async (res) => {
    try {
      const body = JSON.parse(await res.clone().text());
      for (const e of body?.data ?? []) {
        for (const k of Object.keys(e ?? {})) if (!KNOWN_KEYS.has(k)) dropped.add(k);
      }
    } catch {
      // Not JSON: the SDK reports that itself.
    }
  });

  const out = {
    sdk_version: SDK_VERSION,
    method: "stackOne.requestLogs.listLogs",
    params: plain({ ...extra, pageSize }),
    pages: [],
    ids: [],
    missing_ids: 0,
    schema_errors: [],
    errors: [],
  };
  let next;
  for (let page = 0; page < maxPages; page++) {
    // The request-logs operations have no SDK page iterator (x-speakeasy-pagination is not declared for them),
    // so paging is the SDK's `next` request parameter fed from the SDK-parsed response's `next`.
    const params = { ...extra, pageSize, ...(next ? { next } : {}) };
    const before = seen.length;
    let resp;
    try {
      resp = await sdk.requestLogs.listLogs(params);
    } catch (err) {
      const d = describeError(err);
      d.page = page;
      d.query = seen[before]?.query ?? null;
      (d.schema_error ? out.schema_errors : out.errors).push(d);
      break;
    }
    const body = resp.unifiedLogsPaginated;
    if (!body) {
      out.errors.push({ page, name: "HarnessError", message: `no unifiedLogsPaginated in ${resp.statusCode} response` });
      break;
    }
    for (const e of body.data) {
      if (e.requestId == null) out.missing_ids++;
      else out.ids.push(e.requestId);
    }
    out.pages.push({ index: page, query: seen[before]?.query ?? null, entries: body.data.length, next: body.next ?? null });
    next = body.next;
    if (next == null || next === "") break;
    if (page === maxPages - 1) out.errors.push({ name: "HarnessError", message: `still a next cursor after ${maxPages} pages` });
  }
  out.dropped_keys = [...dropped].sort();
  out.total = out.ids.length;
  emit(out);
  return out.schema_errors.length || out.errors.length ? 1 : 0;
}

const DATE_KEYS = new Set(["startDate", "endDate"]);
function reviveDates(v) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) {
      v[k] = DATE_KEYS.has(k) && typeof x === "string" ? new Date(x) : reviveDates(x);
    }
  }
  return v;
}

function emit(v) {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
}

const args = parseArgs(process.argv.slice(2));
const mode = args._[0];
let code;
try {
  if (mode === "queries") code = await runQueries(args);
  else if (mode === "list") code = await runList(args);
  else {
    process.stderr.write("usage: node sdk_contract.mjs queries [--fake URL] [--api-key KEY]\n" +
      "       node sdk_contract.mjs list --base-url URL --api-key KEY [--page-size N] [--params JSON]\n");
    code = 2;
  }
} catch (err) {
  process.stderr.write(`sdk_contract: ${err?.stack ?? err}\n`);
  code = 1;
}
process.exitCode = code;
