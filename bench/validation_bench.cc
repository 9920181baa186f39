// Micro benchmarks for request validation (router/validation.h): a typical 1 KiB order body
// against a realistic schema (types, required, pattern, bounds, nested array of objects), the
// same body failing on its last item (decided, then validated again to name the failure),
// and the query and header rules. Every case reports `allocs_per_iter`.
// Target from the validation issue: under 10 us per body.
#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <string_view>

#include "router/validation.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::router {
namespace {

constexpr std::string_view kSchema = R"({
  "type": "object",
  "required": ["id", "customer", "items"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,8}$"},
    "customer": {
      "type": "object", "required": ["name", "email"],
      "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": "string", "maxLength": 254},
        "tier": {"enum": ["free", "pro", "enterprise"]}
      }
    },
    "note": {"type": "string", "maxLength": 500},
    "items": {
      "type": "array", "minItems": 1, "maxItems": 100,
      "items": {
        "type": "object", "required": ["sku", "qty", "price"],
        "properties": {
          "sku": {"type": "string", "minLength": 1, "maxLength": 32},
          "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
          "price": {"type": "number", "exclusiveMinimum": 0}
        }
      }
    }
  }
})";

// About 1 KiB: an order of 15 line items.
std::string order_body(std::string_view qty_of_last) {
  std::string body = R"({"id":"ORD-12345678","customer":{"name":"Ada Lovelace",)"
                     R"("email":"ada@example.com","tier":"pro"},"note":"leave at the door",)"
                     R"("items":[)";
  for (int i = 0; i < 15; ++i) {
    if (i != 0) body += ',';
    body += R"({"sku":"SKU-000)" + std::to_string(i) + R"(","qty":)";
    body += i == 14 ? std::string(qty_of_last) : std::to_string(i + 1);
    body += R"(,"price":19.99,"gift":false})";
  }
  body += "]}";
  return body;
}

std::unique_ptr<const BodySchema> compiled() {
  std::string error;
  return BodySchema::compile(kSchema, error);
}

void report_allocations(benchmark::State& state, std::size_t before) {
  // Read the count before touching state.counters: adding a counter allocates.
  const std::size_t allocations = testing::allocation_count() - before;
  state.counters["allocs_per_iter"] =
      static_cast<double>(allocations) / static_cast<double>(state.iterations());
}

// A valid 1 KiB body: parse into the scratch's pools, then validate.
void BM_ValidBody(benchmark::State& state) {
  const auto schema = compiled();
  const std::string body = order_body("3");
  ValidationScratch scratch;
  Rejection rejection;
  if (!validate_body(*schema, body, scratch, rejection)) state.SkipWithError("body rejected");
  state.counters["body_bytes"] = static_cast<double>(body.size());
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    benchmark::DoNotOptimize(validate_body(*schema, body, scratch, rejection));
  }
  report_allocations(state, before);
}
BENCHMARK(BM_ValidBody);

// The same body failing on its last item: the decision, then the pass that names the failure.
void BM_InvalidBody(benchmark::State& state) {
  const auto schema = compiled();
  const std::string body = order_body("0");
  ValidationScratch scratch;
  Rejection rejection;
  if (validate_body(*schema, body, scratch, rejection)) state.SkipWithError("body accepted");
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    benchmark::DoNotOptimize(validate_body(*schema, body, scratch, rejection));
  }
  report_allocations(state, before);
}
BENCHMARK(BM_InvalidBody);

// Query and header rules of a typical API route: a required numeric page and an API key.
void BM_QueryAndHeaders(benchmark::State& state) {
  RequestRules rules;
  std::string error;
  ParamRule page;
  page.name = "page";
  page.required = true;
  page.has_pattern = compile_pattern("^[0-9]+$", page.pattern, error);
  page.pattern_text = "^[0-9]+$";
  rules.query.push_back(std::move(page));
  ParamRule key;
  key.name = "x-api-key";
  key.required = true;
  key.has_pattern = compile_pattern("^[A-Za-z0-9]{32}$", key.pattern, error);
  rules.headers.push_back(std::move(key));
  const std::array headers = {api::Header{"host", "api.example.com"},
                              api::Header{"accept", "application/json"},
                              api::Header{"x-api-key", "0123456789abcdefABCDEF0123456789"}};
  ValidationScratch scratch;
  Rejection rejection;
  const std::size_t before = testing::allocation_count();
  for (auto _ : state) {
    benchmark::DoNotOptimize(validate_request(rules, "GET", "sort=asc&page=12",
                                              api::HeaderList(headers), {}, scratch, rejection));
  }
  report_allocations(state, before);
}
BENCHMARK(BM_QueryAndHeaders);

}  // namespace
}  // namespace edgefn::router
