// valijson over rapidjson, included the one way every router file must include them, and the
// types the router validates with. Private to router/.
//
// valijson reports an invalid schema by throwing only when VALIJSON_USE_EXCEPTIONS is set;
// otherwise it prints and aborts, which would turn a manifest mistake into a crash. Its
// adapter-independent headers are read with it set. Its rapidjson adapter, when it sees the
// macro, defines RAPIDJSON_ASSERT as a function taking __FILE__ as a std::string: a malloc and a
// strlen on every rapidjson access, most of the validation time in validation_bench. So the macro
// is withdrawn before the adapter, and RAPIDJSON_ASSERT defined here throws the same way (the
// adapter relies on it for mistyped access) at the cost of a branch. Only router/ includes
// rapidjson, always through this header, so every instantiation in a binary sees this definition.
#pragma once

#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/exceptions.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validation_visitor.hpp>
#undef VALIJSON_USE_EXCEPTIONS

#include <stdexcept>
#define RAPIDJSON_ASSERT(x) \
  ((x) ? static_cast<void>(0) : throw std::logic_error("rapidjson assertion failed: " #x))
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <valijson/adapters/rapidjson_adapter.hpp>

namespace edgefn::router::detail {

using Pool = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
// Values and the parser's stack both come from pools: rapidjson frees and re-allocates its parse
// stack around every Parse with the default stack allocator, a malloc per request.
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool>;
using Adapter = valijson::adapters::RapidJsonAdapter;
using Visitor = valijson::ValidationVisitor<Adapter>;

}  // namespace edgefn::router::detail
