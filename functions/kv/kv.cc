// The `kv` module: maps methods and paths to ctx.kv() calls and their results to HTTP answers.
#include "functions/kv/kv.h"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "functions/api/json.h"

namespace edgefn::functions {

namespace {

enum class Operation { kGet, kPut, kRemove, kIncr, kNone };

Operation operation_of(const api::Request& request) {
  const std::string_view method = request.method;
  if (method == "GET" || method == "HEAD") return Operation::kGet;
  if (method == "PUT") return Operation::kPut;
  if (method == "DELETE") return Operation::kRemove;
  if (method == "POST" && request.path.ends_with("/incr")) return Operation::kIncr;
  return Operation::kNone;
}

// The route parameter `key`, else the only one the pattern has.
std::optional<std::string_view> key_of(const api::Request& request) {
  if (std::optional<std::string_view> key = request.params.get("key")) return key;
  if (request.params.size() == 1) return request.params.begin()->value;
  return std::nullopt;
}

// The answers every operation shares for a failed call.
api::Response failure(api::Context& ctx, api::KvStatus status) {
  switch (status) {
    case api::KvStatus::kNotFound:
      return ctx.error(404, "no value for this key");
    case api::KvStatus::kTooLarge:
      return ctx.error(413, "value larger than the store takes");
    case api::KvStatus::kNotInteger:
      return ctx.error(409, "the stored value is not an integer, or the sum would overflow");
    case api::KvStatus::kOk:
    case api::KvStatus::kUnavailable:
      break;
  }
  api::Response response = ctx.error(503, "the key-value store is unavailable");
  response.set_header("Retry-After", "1");
  return response;
}

}  // namespace

std::unique_ptr<api::Module> KvModule::create(const api::Config& config, std::string& error) {
  std::optional<kv::Settings> settings = kv::parse_settings(config, error);
  if (!settings) return nullptr;
  return std::make_unique<KvModule>(std::move(*settings));
}

api::Task<api::Response> KvModule::handle(const api::Request& request, api::Context& ctx) const {
  const Operation operation = operation_of(request);
  if (operation == Operation::kNone) {
    api::Response response = ctx.error(405, "kv answers GET, PUT, DELETE and POST .../incr");
    response.set_header("Allow", "GET, HEAD, PUT, DELETE, POST");
    co_return response;
  }
  const std::optional<std::string_view> name = key_of(request);
  if (!name || name->empty()) co_return ctx.error(404, "the route names no key");
  if (name->size() > kMaxKeyBytes) co_return ctx.error(414, "key longer than 512 bytes");
  std::pmr::string key(ctx.arena());
  key.reserve(settings_.prefix.size() + name->size());
  key.append(settings_.prefix).append(*name);

  api::Kv& store = ctx.kv();
  switch (operation) {
    case Operation::kGet: {
      api::Response response = ctx.response(200);
      // Straight into the body: one copy of the value on its way out.
      const api::KvResult got = co_await store.get(key, response.body);
      if (!got.ok()) co_return failure(ctx, got.status);
      response.set_header("Content-Type", "application/octet-stream");
      co_return response;
    }
    case Operation::kPut: {
      if (request.body.size() > settings_.max_value_bytes) {
        co_return ctx.error(413, "value larger than max_value_bytes");
      }
      const api::KvResult put = co_await store.put(key, request.body, settings_.ttl);
      if (!put.ok()) co_return failure(ctx, put.status);
      co_return ctx.response(204);
    }
    case Operation::kRemove: {
      // Idempotent: deleting what is not there leaves the same state as deleting it.
      const api::KvResult removed = co_await store.remove(key);
      if (!removed.ok() && removed.status != api::KvStatus::kNotFound) {
        co_return failure(ctx, removed.status);
      }
      co_return ctx.response(204);
    }
    case Operation::kIncr: {
      std::int64_t by = 1;
      if (const std::optional<std::string_view> text = api::query_value(request.query, "by")) {
        const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), by);
        if (ec != std::errc() || end != text->data() + text->size() || text->empty()) {
          co_return ctx.error(400, "by: expected a 64-bit integer");
        }
      }
      const api::KvResult counted = co_await store.incr(key, by, settings_.ttl);
      if (!counted.ok()) co_return failure(ctx, counted.status);
      api::Response response = ctx.response(200);
      response.set_header("Content-Type", "application/json");
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof digits, counted.integer).ptr;
      response.body.append("{\"value\":").append(digits, end).push_back('}');
      co_return response;
    }
    case Operation::kNone:
      break;
  }
  co_return ctx.error(405, "method not allowed");
}

}  // namespace edgefn::functions
