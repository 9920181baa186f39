// Micro benchmarks for the HTTP/1.1 codec: parsing whole requests the way a connection does, and
// serializing a small response. Every case reports `allocs_per_iter`, which must stay 0 once the
// parser and the output buffer are warm: both run on every request.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "functions/api/response.h"
#include "runtime/http_parser.h"
#include "runtime/http_writer.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::runtime::http {
namespace {

// What a browser sends for an API call: 12 header fields, about 500 bytes.
constexpr std::string_view kBrowserGet =
    "GET /api/v1/products/8812/reviews?page=2&sort=recent HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/products/8812\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f2a9c1e7b3d; theme=dark; consent=1\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Cache-Control: no-cache\r\n"
    "\r\n";

// A small JSON API call framed by Content-Length.
constexpr std::string_view kPostContentLength =
    "POST /api/v1/orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: client/2.1\r\n"
    "Content-Type: application/json\r\n"
    "Accept: application/json\r\n"
    "Content-Length: 62\r\n"
    "\r\n"
    "{\"sku\":\"A-1001\",\"quantity\":3,\"note\":\"leave at the front door\"}";

// The same body sent chunked in three pieces, one with an extension, plus a trailer field.
constexpr std::string_view kPostChunked =
    "POST /api/v1/orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: client/2.1\r\n"
    "Content-Type: application/json\r\n"
    "Accept: application/json\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "10\r\n{\"sku\":\"A-1001\",\r\n"
    "e;part=2\r\n\"quantity\":3,\"\r\n"
    "20\r\nnote\":\"leave at the front door\"}\r\n"
    "0\r\n"
    "Checksum: 1234\r\n"
    "\r\n";

// One request per iteration through the connection's sequence: parse to the head, look at the
// head, parse to the end, take the body, next_request(), rebase. The buffer is not erased, so
// after rebase the same bytes are parsed again (header names are already folded by then, which
// costs the same as folding them). `body_size` checks that the body came out whole.
void run_parse(benchmark::State& state, std::string_view request, std::size_t headers,
               std::size_t body_size) {
  RequestParser parser({});
  std::string in(request);
  auto one = [&parser, &in]() -> std::size_t {
    std::span<char> input(in.data(), in.size());
    if (parser.parse(input) != ParseEvent::kHeadComplete) return ~std::size_t{0};
    RequestHead h = parser.head(input);
    benchmark::DoNotOptimize(h);
    if (parser.parse(input) != ParseEvent::kMessageComplete) return ~std::size_t{0};
    std::string_view body = parser.body();
    benchmark::DoNotOptimize(body.data());
    const std::size_t fields = h.headers.size();
    parser.next_request();
    parser.rebase(parser.position());
    return fields * 1'000'000 + body.size();
  };
  if (one() != headers * 1'000'000 + body_size) {
    state.SkipWithError("request did not parse as expected");
    return;
  }
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    std::size_t result = one();
    benchmark::DoNotOptimize(result);
  }
  // Read the count before SetBytesProcessed: adding a counter allocates.
  const std::size_t allocations = testing::allocation_count() - before;
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(request.size()));
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

// A browser-like GET: request line, 12 fields (names folded, values trimmed), no body.
void BM_ParseBrowserGet(benchmark::State& state) {
  run_parse(state, kBrowserGet, 12, 0);
}
BENCHMARK(BM_ParseBrowserGet);

// A small POST whose 62-byte body is framed by Content-Length (copied into the body buffer).
void BM_ParsePostContentLength(benchmark::State& state) {
  run_parse(state, kPostContentLength, 5, 62);
}
BENCHMARK(BM_ParsePostContentLength);

// The same POST chunked: three chunks de-chunked into the body buffer, a trailer skipped.
void BM_ParsePostChunked(benchmark::State& state) {
  run_parse(state, kPostChunked, 5, 62);
}
BENCHMARK(BM_ParsePostChunked);

// write_response for the hello module's answer (status line, Content-Type, Date,
// Content-Length, 13-byte body) into an output buffer that is cleared, not freed, each time.
void BM_WriteHelloResponse(benchmark::State& state) {
  api::Response response;
  response.status = 200;
  response.set_header("Content-Type", "text/plain; charset=utf-8");
  response.body = "Hello, world!";
  DateClock clock;
  const ResponseFraming framing{clock.now(), 1, false, true};
  std::string out;
  write_response(out, response, framing);
  const std::size_t size = out.size();
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    out.clear();
    write_response(out, response, framing);
    benchmark::DoNotOptimize(out.data());
  }
  const std::size_t allocations = testing::allocation_count() - before;
  if (out.size() != size) state.SkipWithError("response size changed");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(size));
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_WriteHelloResponse);

}  // namespace
}  // namespace edgefn::runtime::http
