// The `static` module: validates its config, reads its file once, replays the response.
#include "functions/static/static.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include "functions/api/ascii.h"

namespace edgefn::functions {

namespace {

constexpr std::int64_t kMinStatus = 100;
constexpr std::int64_t kMaxStatus = 599;

// RFC 9110 §15.2, §15.3.5, §15.4.5: these responses end at the header section.
bool has_no_content(std::int64_t status) {
  return status < 200 || status == 204 || status == 304;
}

// A header value may hold HTAB and visible bytes but no other control character (RFC 9110
// §5.5); a CR or LF here would let the manifest split the response.
bool is_header_value(std::string_view value) {
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && b != '\t') || b == 0x7F) return false;
  }
  return true;
}

// RFC 9110 token characters: what a field name is made of.
bool is_token(std::string_view name) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && kSymbols.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool is_framing_field(std::string_view name) {
  for (std::string_view owned :
       {"content-length", "transfer-encoding", "connection", "date", "content-type"}) {
    if (api::ascii::iequals(name, owned)) return true;
  }
  return false;
}

class Problems {
 public:
  void add(std::string_view key, std::string_view reason) {
    if (!text_.empty()) text_ += "; ";
    text_.append(key).append(": ").append(reason);
  }
  bool empty() const { return text_.empty(); }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

// Reads all of `path` into `out`, or returns the reason it could not.
std::optional<std::string> read_file(const std::string& path, std::string& out) {
  const auto quoted = [&] { return "\"" + path + "\""; };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + quoted() + ": " + std::strerror(errno);
  std::optional<std::string> failure;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    failure = "cannot stat " + quoted() + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    failure = quoted() + " is not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > StaticModule::kMaxFileBytes) {
    failure = quoted() + " is larger than 16 MiB (" + std::to_string(st.st_size) + " bytes)";
  } else {
    // Read until end of file rather than trusting st_size, and stop one byte past the cap so a
    // file that grew since fstat() is still caught.
    out.resize(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t filled = 0;
    while (!failure) {
      if (filled == out.size()) {
        if (out.size() > StaticModule::kMaxFileBytes) {
          failure = quoted() + " is larger than 16 MiB";
          break;
        }
        out.resize(std::min(out.size() * 2, StaticModule::kMaxFileBytes + 1));
      }
      const ssize_t n = ::read(fd, out.data() + filled, out.size() - filled);
      if (n < 0) {
        if (errno == EINTR) continue;
        failure = "cannot read " + quoted() + ": " + std::strerror(errno);
      } else if (n == 0) {
        break;
      } else {
        filled += static_cast<std::size_t>(n);
      }
    }
    out.resize(filled);
  }
  ::close(fd);
  return failure;
}

}  // namespace

std::unique_ptr<api::Module> StaticModule::create(const api::Config& config, std::string& error) {
  Problems problems;
  for (const auto& [key, value] : config.values()) {
    if (key != "status" && key != "content_type" && key != "body" && key != "file" &&
        key != "headers") {
      problems.add(key, "unknown key (static accepts: status, content_type, body, file, headers)");
    }
  }

  std::int64_t status = 200;
  if (config.contains("status")) {
    if (std::optional<std::int64_t> s = config.integer("status")) {
      status = *s;
      if (status < kMinStatus || status > kMaxStatus) {
        problems.add("status", "must be between 100 and 599, got " + std::to_string(status));
        status = 200;
      }
    } else {
      problems.add("status", "expected an integer");
    }
  }

  std::string content_type(kDefaultContentType);
  if (config.contains("content_type")) {
    if (std::optional<std::string_view> ct = config.string("content_type")) {
      content_type.assign(*ct);
      if (content_type.empty() || !is_header_value(content_type)) {
        problems.add("content_type", "must be a non-empty header value without control characters");
      }
    } else {
      problems.add("content_type", "expected a string");
    }
  }

  std::string body;
  const bool has_body = config.contains("body");
  const bool has_file = config.contains("file");
  if (has_body && has_file) {
    problems.add("body", "cannot be combined with file: set exactly one of them");
  } else if (!has_body && !has_file) {
    problems.add("body", "missing: set exactly one of body or file");
  } else if (has_body) {
    if (std::optional<std::string_view> b = config.string("body")) {
      body.assign(*b);
    } else {
      problems.add("body", "expected a string");
    }
  } else if (std::optional<std::string_view> f = config.string("file")) {
    // operator/ keeps an absolute `file` as it is and resolves a relative one against the
    // manifest's directory, which is what a manifest author expects of either.
    const std::string path = (std::filesystem::path(config.base_dir()) / *f).string();
    if (std::optional<std::string> failure = read_file(path, body)) problems.add("file", *failure);
  } else {
    problems.add("file", "expected a string");
  }

  std::vector<std::pair<std::string, std::string>> headers;
  if (config.contains("headers")) {
    if (const std::vector<std::string>* lines = config.strings("headers")) {
      for (const std::string& line : *lines) {
        const std::size_t colon = line.find(':');
        std::string_view name = std::string_view(line).substr(0, colon);
        std::string_view value = colon == std::string::npos
                                     ? std::string_view{}
                                     : std::string_view(line).substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
          value.remove_prefix(1);
        if (colon == std::string::npos || !is_token(name) || !is_header_value(value)) {
          problems.add("headers", "expected \"Name: value\" lines; got \"" + line + "\"");
        } else if (is_framing_field(name)) {
          problems.add("headers", std::string(name) + " is set by the server");
        } else {
          headers.emplace_back(name, value);
        }
      }
    } else {
      problems.add("headers", R"(expected an array of "Name: value" strings)");
    }
  }

  if (has_no_content(status) && !body.empty()) {
    problems.add(has_file ? "file" : "body",
                 "must be empty: a " + std::to_string(status) + " response carries no content");
  }

  if (!problems.empty()) {
    error = problems.take();
    return nullptr;
  }
  if (has_no_content(status)) content_type.clear();
  return std::make_unique<StaticModule>(static_cast<int>(status), std::move(content_type),
                                        std::move(body), std::move(headers));
}

api::Task<api::Response> StaticModule::handle(const api::Request& /*request*/,
                                              api::Context& ctx) const {
  api::Response response = ctx.response(status_);
  if (!content_type_.empty()) response.set_header("Content-Type", content_type_);
  for (const auto& [name, value] : headers_)
    response.add_header(name, value);
  response.body.assign(body_);
  co_return response;
}

}  // namespace edgefn::functions
