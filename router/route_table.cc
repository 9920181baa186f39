// The route table: pattern validation and conflict detection at build time, a segment trie per
// host at match time.
//
// Matching rules beyond the header's, chosen to be predictable rather than forgiving:
// - Trailing slashes are significant, as in Envoy: "/hello/" does not match "/hello", and a
//   pattern may not end in '/'. "/dir/*rest" matches "/dir/" (rest "") but not "/dir"; route
//   both when both should answer. "/*rest" therefore matches every path, "/" included.
// - A path is split at every '/', so "/a//b" has an empty segment: it matches no literal and no
//   parameter, only a wildcard (which then starts with '/'). The path "/" is one empty segment,
//   matched only by the pattern "/" or a wildcard at the root.
// - Among the patterns that match the path, the first in priority order (literal, parameter,
//   wildcard, segment by segment) that has a route for the method wins. When none has, the
//   answer is 405 with the union of their methods; when no pattern matches the path, 404.
// - A GET route answers HEAD. An explicit HEAD route on the same pattern overrides that and is
//   not a conflict; HEAD is in every Allow that has GET.
// - The request's host is compared case-insensitively without its port and without one trailing
//   dot ("API.example.com.:8080" is "api.example.com"); "[::1]:8080" is "[::1]". A host's trie
//   that matches the path decides, 405 included; the host-less trie is tried only after it
//   matched nothing.
#include "router/route_table.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "functions/api/ascii.h"

namespace edgefn::router {
namespace {

constexpr std::size_t kMethodCount = static_cast<std::size_t>(Method::kCount);
constexpr std::uint32_t kNone = 0xffffffffu;

constexpr std::array<std::string_view, kMethodCount> kMethodNames = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

static_assert(kMethodCount <= sizeof(MethodMask) * 8, "every method needs a bit in MethodMask");

constexpr MethodMask bit(Method method) {
  return static_cast<MethodMask>(1u << static_cast<unsigned>(method));
}

// Up to this many literal children a node is scanned linearly; above it, binary search. Most
// nodes of real tables have one to a handful of literal children, where a scan beats the
// branchy bisection; a root with dozens of first segments is where the search pays.
constexpr std::uint32_t kLinearScanMax = 8;

template <class Word>
Word load(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof w);  // a single unaligned load once inlined
  return w;
}

// Segments and literals are short (a few to a dozen bytes): word compares inline beat a call to
// memcmp, which callgrind showed as a sixth of a match's instructions.
bool bytes_equal(const char* a, const char* b, std::size_t n) {
  for (; n >= 8; a += 8, b += 8, n -= 8) {
    if (load<std::uint64_t>(a) != load<std::uint64_t>(b)) return false;
  }
  if (n >= 4) {  // two loads that may overlap cover 4..7 bytes
    return load<std::uint32_t>(a) == load<std::uint32_t>(b) &&
           load<std::uint32_t>(a + n - 4) == load<std::uint32_t>(b + n - 4);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// ---- Patterns ----------------------------------------------------------------------------------

enum class SegmentKind : std::uint8_t { kLiteral, kParam, kWildcard };

struct Segment {
  SegmentKind kind = SegmentKind::kLiteral;
  std::string_view text;  // the literal, or the parameter's name without ':' / '*'
};

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || !is_name_start(name.front())) return false;
  return std::all_of(name.begin() + 1, name.end(), is_name_char);
}

// Why a literal segment can never match, or an empty view if it can. Patterns are compared with
// the decoded path, which decode_path() guarantees has no control bytes and no dot segments.
// '%' and '?' could appear in a decoded path (from "%25", "%3F") but in a pattern they are
// almost always an encoded path or a query pasted into the manifest, so they are refused too.
std::string_view literal_problem(std::string_view literal) {
  if (literal == "." || literal == "..") return "has a '.' or '..' segment";
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "contains a control character";
    if (c == '%') return "contains '%' (patterns match the decoded path: write the characters)";
    if (c == '?') return "contains '?' (patterns match the path without the query)";
    if (c == '#') return "contains '#'";
  }
  return {};
}

// Splits `pattern` into segments; on a problem returns false with `error` set to the whole
// message. A lone "/" is one empty literal segment, which is also how match() sees the path "/".
bool parse_pattern(std::string_view pattern, std::vector<Segment>& segments, std::string& error) {
  const std::string name = "pattern " + quoted(pattern);
  segments.clear();
  if (pattern.empty() || pattern.front() != '/') {
    error = name + " must start with '/'";
    return false;
  }
  if (pattern == "/") {
    segments.push_back({SegmentKind::kLiteral, {}});
    return true;
  }
  std::size_t params = 0;
  std::size_t pos = 1;
  while (pos <= pattern.size()) {
    std::size_t end = pattern.find('/', pos);
    if (end == std::string_view::npos) end = pattern.size();
    const std::string_view text = pattern.substr(pos, end - pos);
    const bool last = end == pattern.size();
    pos = end + 1;
    if (text.empty() && last) {
      // Paths match strictly ("/a/" is not "/a"), so a trailing slash is a pattern no one means.
      const std::string_view bare = pattern.substr(0, pattern.size() - 1);
      error = name + " ends with '/' (trailing slashes are significant: use " + quoted(bare) +
              " or " + quoted(std::string(bare) + "/*rest") + ")";
      return false;
    }
    if (text.empty()) {
      error = name + " has an empty segment";
      return false;
    }
    if (text.front() == ':' || text.front() == '*') {
      const bool wildcard = text.front() == '*';
      const std::string_view param = text.substr(1);
      if (wildcard && !last) {
        error = name + " has the wildcard " + quoted(text) + " before its last segment";
        return false;
      }
      if (param.empty()) {
        error = name + " has a parameter with no name";
        return false;
      }
      if (!is_valid_name(param)) {
        error = name + " has an invalid parameter name " + quoted(param) +
                " (letters, digits and '_', not starting with a digit)";
        return false;
      }
      for (const Segment& s : segments) {
        if (s.kind != SegmentKind::kLiteral && s.text == param) {
          error = name + " repeats the parameter name " + quoted(param);
          return false;
        }
      }
      if (++params > kMaxParams) {
        error = name + " has more than " + std::to_string(kMaxParams) + " parameters";
        return false;
      }
      segments.push_back({wildcard ? SegmentKind::kWildcard : SegmentKind::kParam, param});
      continue;
    }
    if (const std::string_view problem = literal_problem(text); !problem.empty()) {
      error = name + " " + std::string(problem);
      return false;
    }
    segments.push_back({SegmentKind::kLiteral, text});
  }
  return true;
}

// The shape two patterns share when they match exactly the same paths: names dropped, so
// "/a/:x/*r" and "/a/:y/*s" are both "/a/:/*". Literals never start with ':' or '*'.
std::string pattern_shape(const std::vector<Segment>& segments) {
  std::string shape;
  for (const Segment& s : segments) {
    shape += '/';
    switch (s.kind) {
      case SegmentKind::kLiteral:
        shape += s.text;
        break;
      case SegmentKind::kParam:
        shape += ':';
        break;
      case SegmentKind::kWildcard:
        shape += '*';
        break;
    }
  }
  return shape;
}

// ---- Hosts -------------------------------------------------------------------------------------

using api::ascii::to_lower;

// A request's host without its port and without one trailing dot ("Example.COM.:8080" ->
// "Example.COM"); "[::1]:80" keeps its brackets. Case is folded by the comparison, not here,
// so nothing is copied.
std::string_view strip_host(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  }
  return host;
}

// Orders a lower-case `stored` host against a `request` host of any case, bytes as unsigned.
int compare_host(std::string_view stored, std::string_view request) {
  const std::size_t n = std::min(stored.size(), request.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = static_cast<unsigned char>(stored[i]);
    const auto b = static_cast<unsigned char>(to_lower(request[i]));
    if (a != b) return a < b ? -1 : 1;
  }
  if (stored.size() == request.size()) return 0;
  return stored.size() < request.size() ? -1 : 1;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// Lower-cases a route's host and checks it is a name or a bracketed IPv6 address without port;
// returns the problem, or an empty string.
std::string normalize_spec_host(std::string& host) {
  std::transform(host.begin(), host.end(), host.begin(), to_lower);
  const std::string shown = quoted(host);
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close != std::string::npos && close + 1 < host.size()) {
      return "host " + shown + " must not include a port";
    }
    const bool ok =
        close == host.size() - 1 && close > 1 &&
        std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
        });
    return ok ? std::string() : "host " + shown + " is not a valid IPv6 address in brackets";
  }
  if (const auto colons = std::count(host.begin(), host.end(), ':'); colons != 0) {
    return "host " + shown + " must not include a port" +
           (colons > 1 ? " (write IPv6 addresses in brackets)" : "");
  }
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char)) {
    return "host " + shown + " is not a valid host name";
  }
  return {};
}

// ---- Build-time trie ---------------------------------------------------------------------------

struct BuildNode {
  std::map<std::string, std::uint32_t, std::less<>> literals;  // sorted: becomes the edge order
  std::uint32_t param = kNone;
  std::uint32_t wildcard = kNone;
  std::array<std::uint32_t, kMethodCount> routes;
  BuildNode() { routes.fill(kNone); }
};

}  // namespace

// ---- The table ---------------------------------------------------------------------------------

// One trie per host plus one for host-less routes, all in one node array. A node is reached by
// consuming segments; `routes` says which spec answers each method once the path ends there.
struct RouteTable::Impl {
  struct Edge {
    std::uint32_t key_offset;  // into keys
    std::uint32_t key_size;
    std::uint32_t child;
  };
  struct Node {
    std::uint32_t edge_begin = 0;  // literal children: edges[edge_begin, edge_begin + edge_count)
    std::uint32_t edge_count = 0;  // ordered by key size, then key bytes
    std::uint32_t param = kNone;
    std::uint32_t wildcard = kNone;  // a terminal node: the wildcard takes the rest of the path
    MethodMask allow = 0;            // methods with a route here, HEAD included when GET is
    std::array<std::uint32_t, kMethodCount> routes{};
  };
  struct Route {
    std::uint32_t target = 0;
    std::vector<std::string> param_names;  // in pattern order; Param::name views these
  };
  struct HostRoot {
    std::string host;  // lower-case, no port
    std::uint32_t root = kNone;
  };

  std::vector<Node> nodes;
  std::vector<Edge> edges;
  std::string keys;                // every literal, back to back
  std::vector<Route> routes;       // indexed like the specs given to build()
  std::vector<HostRoot> hosts;     // sorted by host
  std::uint32_t any_root = kNone;  // host-less routes
  std::size_t route_count = 0;     // specs that made it into a trie

  std::string_view key(const Edge& e) const { return {keys.data() + e.key_offset, e.key_size}; }

  // Edges are ordered by size first, so most probes are settled without reading a byte.
  std::uint32_t literal_child(const Node& node, std::string_view segment) const {
    const Edge* first = edges.data() + node.edge_begin;
    const Edge* last = first + node.edge_count;
    const std::size_t size = segment.size();
    if (node.edge_count <= kLinearScanMax) {
      for (const Edge* e = first; e != last && e->key_size <= size; ++e) {
        if (e->key_size == size && bytes_equal(keys.data() + e->key_offset, segment.data(), size)) {
          return e->child;
        }
      }
      return kNone;
    }
    const Edge* e =
        std::lower_bound(first, last, segment, [this](const Edge& a, std::string_view s) {
          if (a.key_size != s.size()) return a.key_size < s.size();
          return key(a) < s;
        });
    return (e != last && e->key_size == size &&
            bytes_equal(keys.data() + e->key_offset, segment.data(), size))
               ? e->child
               : kNone;
  }

  std::uint32_t find_host(std::string_view host) const {
    std::size_t lo = 0;
    std::size_t hi = hosts.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      const int order = compare_host(hosts[mid].host, host);
      if (order == 0) return hosts[mid].root;
      if (order < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return kNone;
  }

  class Search;
};

// One depth-first search of one trie: literal, then parameter, then wildcard at every segment,
// backing up when a branch ends without a route. The first route found for the method wins;
// nodes that end the path without one add their methods to `allow` for a 405. The depth is
// bounded by the longest pattern, and each trie path holds at most kMaxParams parameters (a
// wildcard counts as one), so the recursion and the `values` array stay small. Lives on the
// caller's stack.
class RouteTable::Impl::Search {
 public:
  Search(const Impl& table, std::string_view path, Method method)
      : table_(table), path_(path), method_(method) {}

  // Returns true when a route for the method was found; `route()` and `values()` describe it.
  bool run(std::uint32_t root) { return visit(root, 0, 0); }

  std::uint32_t route() const { return route_; }
  std::size_t value_count() const { return value_count_; }
  std::string_view value(std::size_t i) const { return {value_data_[i], value_size_[i]}; }
  MethodMask allow() const { return allow_; }

 private:
  // The path has been consumed up to `pos`, which is either its end or a '/' before the next
  // segment; `depth` parameter values are captured.
  // The last alternative at a node is taken by looping instead of recursing, since nothing is
  // left to back up to there; only a real choice (say "/users/me" beside "/users/:id") recurses.
  bool visit(std::uint32_t index, std::size_t pos, std::size_t depth) {
    for (;;) {
      const Node& node = table_.nodes[index];
      if (pos == path_.size()) return accept(node, depth);
      const std::size_t begin = pos + 1;
      std::size_t end = begin;
      while (end != path_.size() && path_[end] != '/')
        ++end;
      const std::string_view segment = path_.substr(begin, end - begin);
      const bool param = node.param != kNone && !segment.empty();
      const bool wildcard = node.wildcard != kNone;
      if (node.edge_count != 0) {
        const std::uint32_t child = table_.literal_child(node, segment);
        if (child != kNone) {
          if (!param && !wildcard) {
            index = child;
            pos = end;
            continue;
          }
          if (visit(child, end, depth)) return true;
        }
      }
      if (param) {
        set_value(depth, segment);
        if (!wildcard) {
          index = node.param;
          pos = end;
          ++depth;
          continue;
        }
        if (visit(node.param, end, depth + 1)) return true;
      }
      if (wildcard) {
        set_value(depth, path_.substr(begin));
        return accept(table_.nodes[node.wildcard], depth + 1);
      }
      return false;
    }
  }

  void set_value(std::size_t depth, std::string_view value) {
    value_data_[depth] = value.data();
    value_size_[depth] = value.size();
  }

  // The path ends at `node`: a route for the method there wins (an explicit HEAD route before
  // the GET route that also answers HEAD); otherwise its methods are remembered for a 405.
  bool accept(const Node& node, std::size_t depth) {
    if (node.allow == 0) return false;
    std::uint32_t route = kNone;
    if (method_ != Method::kCount) {
      route = node.routes[static_cast<std::size_t>(method_)];
      if (route == kNone && method_ == Method::kHead) {
        route = node.routes[static_cast<std::size_t>(Method::kGet)];
      }
    }
    if (route == kNone) {
      allow_ |= node.allow;
      return false;
    }
    route_ = route;
    value_count_ = depth;
    return true;
  }

  const Impl& table_;
  std::string_view path_;
  Method method_;
  MethodMask allow_ = 0;
  std::uint32_t route_ = kNone;
  std::size_t value_count_ = 0;
  // Left uninitialized: only entries below value_count_ are read, and zeroing 256 bytes per
  // match cost more than the rest of a one-segment lookup.
  std::array<const char*, kMaxParams> value_data_;
  std::array<std::size_t, kMaxParams> value_size_;
};

// By length first: every comparison below is then a fixed-size compare the compiler inlines.
Method parse_method(std::string_view method) {
  switch (method.size()) {
    case 3:
      if (method == "GET") return Method::kGet;
      if (method == "PUT") return Method::kPut;
      break;
    case 4:
      if (method == "HEAD") return Method::kHead;
      if (method == "POST") return Method::kPost;
      break;
    case 5:
      if (method == "PATCH") return Method::kPatch;
      break;
    case 6:
      if (method == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (method == "OPTIONS") return Method::kOptions;
      break;
    default:
      break;
  }
  return Method::kCount;
}

std::string_view method_name(Method method) {
  const auto i = static_cast<std::size_t>(method);
  return i < kMethodCount ? kMethodNames[i] : std::string_view();
}

std::string allow_header(MethodMask mask) {
  std::string out;
  for (std::size_t i = 0; i < kMethodCount; ++i) {
    if ((mask & bit(static_cast<Method>(i))) == 0) continue;
    if (!out.empty()) out += ", ";
    out += kMethodNames[i];
  }
  return out;
}

RouteTable::RouteTable() = default;
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

RouteTable RouteTable::build(std::span<const RouteSpec> specs, std::vector<RouteError>& errors) {
  auto impl = std::make_unique<Impl>();
  impl->routes.resize(specs.size());

  std::vector<BuildNode> nodes;
  std::map<std::string, std::uint32_t> host_roots;  // lower-case host -> root node
  // Specs already in a trie, by host and pattern shape: a second one with the same method
  // would answer exactly the same requests.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> by_shape;
  std::vector<Segment> segments;
  std::string error;

  for (std::size_t i = 0; i < specs.size(); ++i) {
    const RouteSpec& spec = specs[i];
    const std::size_t errors_before = errors.size();

    const Method method = parse_method(spec.method);
    if (method == Method::kCount) {
      errors.push_back({i,
                        "unknown method " + quoted(spec.method) +
                            " (expected GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)",
                        std::nullopt});
    }
    std::string host = spec.host;
    if (!host.empty()) {
      if (std::string problem = normalize_spec_host(host); !problem.empty()) {
        errors.push_back({i, std::move(problem), std::nullopt});
      }
    }
    if (!parse_pattern(spec.pattern, segments, error)) errors.push_back({i, error, std::nullopt});
    if (errors.size() != errors_before) continue;

    // Only the same method clashes: an explicit HEAD beside a GET replaces the HEAD the GET
    // would answer, which is what writing it asks for.
    std::vector<std::size_t>& same = by_shape[{host, pattern_shape(segments)}];
    const auto clash = std::find_if(same.begin(), same.end(), [&](std::size_t other) {
      return specs[other].method == spec.method;
    });
    if (clash != same.end()) {
      errors.push_back({i,
                        "conflicts with route " + std::to_string(*clash) + " " +
                            quoted(specs[*clash].method + " " + specs[*clash].pattern),
                        *clash});
      continue;
    }
    same.push_back(i);

    std::uint32_t node = kNone;
    if (host.empty()) {
      if (impl->any_root == kNone) {
        impl->any_root = static_cast<std::uint32_t>(nodes.size());
        nodes.emplace_back();
      }
      node = impl->any_root;
    } else {
      auto [it, inserted] = host_roots.try_emplace(host, static_cast<std::uint32_t>(nodes.size()));
      if (inserted) nodes.emplace_back();
      node = it->second;
    }
    Impl::Route& route = impl->routes[i];
    route.target = spec.target;
    for (const Segment& s : segments) {
      std::uint32_t next = kNone;
      switch (s.kind) {
        case SegmentKind::kLiteral: {
          auto found = nodes[node].literals.find(s.text);
          next = found != nodes[node].literals.end() ? found->second : kNone;
          if (next == kNone) {
            next = static_cast<std::uint32_t>(nodes.size());
            nodes[node].literals.emplace(std::string(s.text), next);
            nodes.emplace_back();
          }
          break;
        }
        case SegmentKind::kParam:
        case SegmentKind::kWildcard: {
          // Re-read the slot after emplace_back: growing `nodes` moves the parent.
          const auto slot = [&]() -> std::uint32_t& {
            return s.kind == SegmentKind::kParam ? nodes[node].param : nodes[node].wildcard;
          };
          if (slot() == kNone) {
            const auto created = static_cast<std::uint32_t>(nodes.size());
            nodes.emplace_back();
            slot() = created;
          }
          next = slot();
          route.param_names.emplace_back(s.text);
          break;
        }
      }
      node = next;
    }
    nodes[node].routes[static_cast<std::size_t>(method)] = static_cast<std::uint32_t>(i);
    ++impl->route_count;
  }

  // Freeze: the same node indices, literal children flattened into one edge array, each node's
  // run ordered by (size, bytes) for literal_child().
  impl->nodes.resize(nodes.size());
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const BuildNode& from = nodes[n];
    Impl::Node& to = impl->nodes[n];
    to.edge_begin = static_cast<std::uint32_t>(impl->edges.size());
    to.edge_count = static_cast<std::uint32_t>(from.literals.size());
    std::vector<std::pair<std::string_view, std::uint32_t>> children(from.literals.begin(),
                                                                     from.literals.end());
    std::sort(children.begin(), children.end(), [](const auto& a, const auto& b) {
      if (a.first.size() != b.first.size()) return a.first.size() < b.first.size();
      return a.first < b.first;
    });
    for (const auto& [literal, child] : children) {
      impl->edges.push_back({static_cast<std::uint32_t>(impl->keys.size()),
                             static_cast<std::uint32_t>(literal.size()), child});
      impl->keys += literal;
    }
    to.param = from.param;
    to.wildcard = from.wildcard;
    to.routes = from.routes;
    for (std::size_t m = 0; m < kMethodCount; ++m) {
      if (from.routes[m] != kNone) to.allow |= bit(static_cast<Method>(m));
    }
    if ((to.allow & bit(Method::kGet)) != 0) to.allow |= bit(Method::kHead);
  }
  for (auto& [host, root] : host_roots)
    impl->hosts.push_back({host, root});

  RouteTable table;
  table.impl_ = std::move(impl);
  return table;
}

// Host routes first: the host-less trie is consulted only when no route of the request's host
// matches the path with any method, so a host's 405 is never masked by a host-less route.
Match RouteTable::match(std::string_view host, std::string_view method, std::string_view path,
                        std::span<api::Param, kMaxParams> params) const {
  Match result;
  if (!impl_ || path.empty() || path.front() != '/') return result;
  const Method m = parse_method(method);
  std::uint32_t host_root = kNone;
  if (!impl_->hosts.empty()) {
    const std::string_view bare_host = strip_host(host);
    if (!bare_host.empty()) host_root = impl_->find_host(bare_host);
  }
  for (const std::uint32_t root : {host_root, impl_->any_root}) {
    if (root == kNone) continue;
    Impl::Search search(*impl_, path, m);
    if (search.run(root)) {
      const Impl::Route& route = impl_->routes[search.route()];
      for (std::size_t i = 0; i < search.value_count(); ++i) {
        params[i] = {route.param_names[i], search.value(i)};
      }
      result.status = Match::Status::kFound;
      result.target = route.target;
      result.route = search.route();
      result.param_count = search.value_count();
      return result;
    }
    if (search.allow() != 0) {
      result.status = Match::Status::kMethodNotAllowed;
      result.allow = search.allow();
      return result;
    }
  }
  return result;
}

std::size_t RouteTable::size() const {
  return impl_ ? impl_->route_count : 0;
}

}  // namespace edgefn::router
