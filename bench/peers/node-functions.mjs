// bench/peers/node-functions.mjs: the Node.js peer of bench/function-coldstart, serving the same
// three functions as bench/functions.toml the way a Node.js deployment would:
//   GET  /hello     "Hello, world!"
//   POST /echo      the body parsed and validated with Ajv against SCHEMA (compiled at start,
//                   as edgefn compiles body_schema before it listens), answered as edgefn's echo
//                   module answers: a JSON object whose "body" member is the text received
//   POST /markdown  the body rendered to HTML by marked
// Usage: node node-functions.mjs PORT SCHEMA MODULES_DIR
// MODULES_DIR holds node_modules with ajv and marked (bench/peers/install node-functions). Prints
// {"msg":"ready"} once listening, the line the harness waits for.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const [port, schemaPath, modulesDir] = process.argv.slice(2);
const require = createRequire(resolve(modulesDir, "node_modules", "index.js"));
const Ajv = require("ajv");
const { marked } = require("marked");

const validate = new Ajv().compile(JSON.parse(readFileSync(schemaPath, "utf8")));
const hello = "Hello, world!";

function send(res, status, type, text) {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function withBody(req, res, answer) {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => answer(Buffer.concat(chunks).toString("utf8")));
}

function echo(req, res, text) {
  let document;
  try {
    document = JSON.parse(text);
  } catch (error) {
    send(res, 400, "application/json", JSON.stringify({ error: `invalid JSON: ${error.message}` }));
    return;
  }
  if (!validate(document)) {
    const [first] = validate.errors;
    send(res, 400, "application/json",
      JSON.stringify({ error: "the body does not match the schema", pointer: first.instancePath,
        keyword: first.keyword }));
    return;
  }
  send(res, 200, "application/json",
    JSON.stringify({ method: req.method, path: req.url, headers: req.headers, body: text }));
}

const server = createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  if (req.method === "GET" && path === "/hello") {
    send(res, 200, "text/plain; charset=utf-8", hello);
  } else if (req.method === "POST" && path === "/echo") {
    withBody(req, res, (text) => echo(req, res, text));
  } else if (req.method === "POST" && path === "/markdown") {
    withBody(req, res, (text) => send(res, 200, "text/html; charset=utf-8", marked.parse(text)));
  } else {
    send(res, 404, "text/plain; charset=utf-8", "Not Found");
  }
});
server.listen(Number(port), "127.0.0.1", () => console.log(JSON.stringify({ msg: "ready" })));
// Stopped by SIGTERM between runs, as edgefn is: exit 0 like it, with no request in flight.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
