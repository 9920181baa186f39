// bench/peers/node.mjs: Node.js peer of the cold-start benchmark (node node.mjs PORT).
import { createServer } from "node:http";

const hello = "Hello, world!";
const text = "text/plain; charset=utf-8";

createServer((req, res) => {
  // Content-Length as the other peers send it: with writeHead alone Node answers chunked.
  if (req.method === "GET" && req.url.split("?", 1)[0] === "/hello") {
    res.writeHead(200, { "Content-Type": text, "Content-Length": hello.length });
    res.end(hello);
  } else {
    res.writeHead(404, { "Content-Type": text, "Content-Length": 9 });
    res.end("Not Found");
  }
}).listen(Number(process.argv[2]), "127.0.0.1");
