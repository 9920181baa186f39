// bench/peers/bun.js: Bun peer of the cold-start benchmark (bun bun.js PORT).
const text = { "Content-Type": "text/plain; charset=utf-8" };

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(Bun.argv[2]),
  fetch(req) {
    if (req.method === "GET" && new URL(req.url).pathname === "/hello") {
      return new Response("Hello, world!", { headers: text });
    }
    return new Response("Not Found", { status: 404, headers: text });
  },
});
