// PurgeList: rules by sequence, matched against a stored response's key and header lines.
#include "cache/purge.h"

#include <charconv>
#include <mutex>

#include "functions/api/ascii.h"

namespace edgefn::cache {

namespace {

// Takes one netstring ("<len>:<bytes>,") off the front of `text` into `field`.
bool take_netstring(std::string_view& text, std::string_view& field) {
  std::size_t length = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
  const std::size_t digits = static_cast<std::size_t>(end - text.data());
  if (ec != std::errc() || digits == 0 || digits + 2 + length > text.size() ||
      text[digits] != ':' || text[digits + 1 + length] != ',') {
    return false;
  }
  field = text.substr(digits + 1, length);
  text.remove_prefix(digits + 2 + length);
  return true;
}

// The host of a key is its authority as sent, folded to lower case: a port does not count.
std::string_view without_port(std::string_view host) {
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const std::size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool matches(const PurgeRule& rule, std::string_view host, std::string_view path,
             std::string_view header_lines) {
  switch (rule.kind) {
    case PurgeRule::Kind::kTag:
      return lists_cache_tag(header_lines, rule.text);
    case PurgeRule::Kind::kPath:
    case PurgeRule::Kind::kPrefix:
      // A function not keyed by host answers every host: a purge for one host covers it too.
      if (!rule.host.empty() && !host.empty() && without_port(host) != rule.host) return false;
      return rule.kind == PurgeRule::Kind::kPath ? path == rule.text : path.starts_with(rule.text);
  }
  return false;
}

}  // namespace

bool key_host_and_path(std::string_view key, std::string_view& host, std::string_view& path) {
  constexpr std::string_view kVersion = "v2|";
  if (!key.starts_with(kVersion)) return false;
  key.remove_prefix(kVersion.size());
  std::string_view scope;
  std::string_view method;
  return take_netstring(key, scope) && take_netstring(key, method) && take_netstring(key, host) &&
         take_netstring(key, path);
}

bool lists_cache_tag(std::string_view header_lines, std::string_view tag) {
  constexpr std::string_view kName = "cache-tag:";
  while (!header_lines.empty()) {
    const std::size_t end = header_lines.find("\r\n");
    const std::string_view line = header_lines.substr(0, end);
    header_lines =
        end == std::string_view::npos ? std::string_view{} : header_lines.substr(end + 2);
    if (line.size() < kName.size() || !api::ascii::iequals(line.substr(0, kName.size()), kName)) {
      continue;
    }
    bool listed = false;
    api::ascii::for_each_list_item(line.substr(kName.size()), [&](std::string_view item) {
      listed = item == tag;
      return !listed;
    });
    if (listed) return true;
  }
  return false;
}

std::uint64_t PurgeList::add(std::span<const PurgeRule> rules, std::int64_t wall_ms) {
  std::unique_lock lock(mutex_);
  const std::uint64_t sequence = latest_.load(std::memory_order_relaxed) + 1;
  for (const PurgeRule& rule : rules) {
    if (rules_.size() == kMaxRules) {
      forgotten_ = rules_.front().sequence;
      forgotten_ms_ = rules_.front().wall_ms;
      rules_.pop_front();
    }
    rules_.push_back({rule, sequence, wall_ms});
  }
  // Published after the rules: a reader that sees the sequence finds them under the lock.
  latest_.store(sequence, std::memory_order_release);
  return sequence;
}

template <class After>
bool PurgeList::any_match(After after, std::string_view key, std::string_view header_lines) const {
  std::string_view host;
  std::string_view path;
  if (!key_host_and_path(key, host, path)) return false;
  std::shared_lock lock(mutex_);
  // Older than a rule no longer known: it might have matched it.
  if (forgotten_ != 0 && after(Entry{{}, forgotten_, forgotten_ms_})) return true;
  for (auto rule = rules_.rbegin(); rule != rules_.rend() && after(*rule); ++rule) {
    if (matches(rule->rule, host, path, header_lines)) return true;
  }
  return false;
}

bool PurgeList::purged(std::uint64_t mark, std::string_view key,
                       std::string_view header_lines) const {
  if (mark >= latest()) return false;
  return any_match([mark](const Entry& rule) { return rule.sequence > mark; }, key, header_lines);
}

bool PurgeList::purged_since(std::int64_t stored_at_ms, std::string_view key,
                             std::string_view header_lines) const {
  if (latest() == 0) return false;
  // A rule of the same millisecond as the store counts: a miss rather than a purged answer.
  return any_match([stored_at_ms](const Entry& rule) { return rule.wall_ms >= stored_at_ms; }, key,
                   header_lines);
}

}  // namespace edgefn::cache
