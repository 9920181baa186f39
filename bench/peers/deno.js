// bench/peers/deno.js: Deno peer of the cold-start benchmark (deno run --allow-net deno.js PORT).
const text = { "Content-Type": "text/plain; charset=utf-8" };

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0]),
  // Deno prints "Listening on ..." by default; the other servers print nothing.
  onListen() {},
}, (req) => {
  if (req.method === "GET" && new URL(req.url).pathname === "/hello") {
    return new Response("Hello, world!", { headers: text });
  }
  return new Response("Not Found", { status: 404, headers: text });
});
