// The cache key: a canonical byte string naming one cacheable response, plus its 64-bit XXH3
// hash. Lookups compare the hash first and the bytes second; a hash match alone is never trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace edgefn::cache {

// XXH3_64bits of `bytes` (seed 0): the hash every cache layer uses for a key.
std::uint64_t hash_key_bytes(std::string_view bytes);

// A key as the caches see it: a view of the canonical bytes plus their hash. It owns nothing;
// the bytes must outlive the key (they usually live in a std::string the caller reuses per
// request). Copying a key copies the view. Never allocates.
class CacheKey {
 public:
  constexpr CacheKey() = default;

  // Hashes `canonical` with hash_key_bytes().
  static CacheKey of(std::string_view canonical) {
    return CacheKey(canonical, hash_key_bytes(canonical));
  }

  // A key whose hash was computed elsewhere (or is forced, as tests do to make distinct keys
  // collide). The hash must be a function of the bytes: two keys with equal bytes and different
  // hashes are different keys to every cache.
  static constexpr CacheKey with_hash(std::string_view canonical, std::uint64_t hash) {
    return CacheKey(canonical, hash);
  }

  constexpr std::uint64_t hash() const { return hash_; }
  constexpr std::string_view bytes() const { return bytes_; }

  // Equal when both the hash and the bytes are equal.
  friend constexpr bool operator==(const CacheKey& a, const CacheKey& b) {
    return a.hash_ == b.hash_ && a.bytes_ == b.bytes_;
  }

 private:
  constexpr CacheKey(std::string_view canonical, std::uint64_t hash)
      : bytes_(canonical), hash_(hash) {}

  std::string_view bytes_;
  std::uint64_t hash_ = 0;
};

// One request header selected for the key (a route's `vary` list). `value` is nullopt when the
// request does not carry the header, which is a different key from carrying it empty. When a
// header appears on several lines, the caller passes the values joined with ", " (RFC 9110 5.3).
struct KeyHeader {
  std::string_view name;
  std::optional<std::string_view> value;
};

// What a response is keyed on. All fields are views; none is retained after build_key().
struct KeyParts {
  std::string_view method;  // as sent; methods are case-sensitive ("GET" and "get" differ)
  std::string_view host;    // authority as sent (port kept); folded to lower case in the key
  std::string_view path;    // percent-decoded once, as the router matched it
  std::string_view query;   // raw query without the '?', byte-exact (no reordering, no decoding)
  std::span<const KeyHeader> headers;  // in a fixed order per route (its `vary` list order)
  // Whose responses these are (the function's name): two functions never share entries, even
  // when a reload moves a route from one to the other.
  std::string_view scope;
};

// The canonical form, version 2. Every variable field is a netstring, `<decimal length>:<bytes>,`,
// so the encoding is injective whatever bytes the fields hold (no separator can be forged by a
// path or header value):
//
//   key     = "v2|" ns(scope) ns(method) ns(lower(host)) ns(path) ns(query) *header
//   header  = ns(lower(name)) ( ns(trim(value)) / "-" )     ; "-": header absent
//   ns(x)   = decimal(len(x)) ":" x ","
//
// lower() folds ASCII A-Z only; trim() strips leading and trailing spaces and tabs (optional
// whitespace, RFC 9110 5.6.3). Example: GET http://Example.com/hello?x=1 for the function
// "hello", varying on accept-language (sent as "en") and x-api-key (absent):
//
//   v2|5:hello,3:GET,11:example.com,6:/hello,3:x=1,15:accept-language,2:en,9:x-api-key,-
//
// The version prefix keeps keys stored in a shared layer (Redis) from being read by a later
// build that composes keys differently (version 1 had no scope).
//
// Returns the exact size of the canonical form of `parts`.
std::size_t canonical_key_size(const KeyParts& parts);

// Writes the canonical form of `parts` into `out` (replacing its contents) and returns the key,
// which views `out`. Allocates only when `out`'s capacity is smaller than the key, so a buffer
// reused across requests makes this allocation-free once warm. Single pass over the bytes
// plus one hash.
CacheKey build_key(const KeyParts& parts, std::string& out);

}  // namespace edgefn::cache
