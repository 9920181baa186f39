// Canonical cache keys: size first, then one write into the caller's buffer, then XXH3.
#include "cache/key.h"

#include "cache/invalidation.h"
#include "functions/api/ascii.h"

// The streaming state lives on the stack only with the static-linking declarations.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace edgefn::cache {
namespace {

constexpr std::string_view kVersion = "v2|";
constexpr char kAbsent = '-';

std::size_t decimal_digits(std::size_t n) {
  std::size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

// Bytes ns(x) takes for a field of `n` bytes: digits, ':', the bytes, ','.
std::size_t netstring_size(std::size_t n) {
  return decimal_digits(n) + 1 + n + 1;
}

using api::ascii::trim_ows;

constexpr char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Writes the netstring header and returns where the field's bytes go. `out` has room: the
// caller sized the buffer with canonical_key_size().
char* write_length(char* out, std::size_t n) {
  // 20 digits hold any 64-bit size, so to_chars cannot fail into the space reserved for it.
  out = std::to_chars(out, out + 20, n).ptr;
  *out++ = ':';
  return out;
}

char* write_field(char* out, std::string_view field) {
  out = write_length(out, field.size());
  if (!field.empty()) std::memcpy(out, field.data(), field.size());
  out += field.size();
  *out++ = ',';
  return out;
}

char* write_lower_field(char* out, std::string_view field) {
  out = write_length(out, field.size());
  for (char c : field)
    *out++ = to_lower(c);
  *out++ = ',';
  return out;
}

}  // namespace

std::uint64_t hash_key_bytes(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::size_t canonical_key_size(const KeyParts& parts) {
  std::size_t size = kVersion.size() + netstring_size(parts.scope.size()) +
                     netstring_size(parts.method.size()) + netstring_size(parts.host.size()) +
                     netstring_size(parts.path.size()) + netstring_size(parts.query.size());
  for (const KeyHeader& h : parts.headers) {
    size += netstring_size(h.name.size());
    size += h.value ? netstring_size(trim_ows(*h.value).size()) : 1;
  }
  return size;
}

CacheKey build_key(const KeyParts& parts, std::string& out) {
  const std::size_t size = canonical_key_size(parts);
  // resize() within the existing capacity does not allocate; every byte it fills is
  // overwritten below, and `size` is exact, so nothing is left over from a longer previous key.
  out.resize(size);
  char* p = out.data();
  std::memcpy(p, kVersion.data(), kVersion.size());
  p += kVersion.size();
  p = write_field(p, parts.scope);
  p = write_field(p, parts.method);
  p = write_lower_field(p, parts.host);
  p = write_field(p, parts.path);
  p = write_field(p, parts.query);
  for (const KeyHeader& h : parts.headers) {
    p = write_lower_field(p, h.name);
    if (h.value) {
      p = write_field(p, trim_ows(*h.value));
    } else {
      *p++ = kAbsent;
    }
  }
  return CacheKey::of(std::string_view(out.data(), size));
}

std::uint64_t uri_hash(std::string_view scope, std::string_view host, std::string_view path) {
  // Each part is length-prefixed, as in the key, so no two URIs feed the same bytes; the host is
  // lower-cased through a small stack buffer instead of a copy.
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  auto feed = [&state](std::string_view part, bool lower) {
    const std::uint64_t length = part.size();
    XXH3_64bits_update(&state, &length, sizeof length);
    char chunk[64];
    while (!part.empty()) {
      const std::size_t n = std::min(part.size(), sizeof chunk);
      for (std::size_t i = 0; i < n; ++i)
        chunk[i] = lower ? to_lower(part[i]) : part[i];
      XXH3_64bits_update(&state, chunk, n);
      part.remove_prefix(n);
    }
  };
  feed(scope, false);
  feed(host, true);
  feed(path, false);
  return XXH3_64bits_digest(&state);
}

}  // namespace edgefn::cache
