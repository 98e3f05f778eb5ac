#include "request.hpp"

#include <charconv>

namespace demo {
namespace {

// Splits "k=v;k=v" into the request, assigning into existing strings where a
// reused request has them.
void parse(std::string_view body, Request& request) {
  while (!body.empty()) {
    const std::size_t end = body.find(';');
    std::string_view pair = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view{} : body.substr(end + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "stream") {
      request.stream.assign(value);
    } else if (key == "type") {
      request.type.assign(value);
    } else {
      if (request.field_count == request.fields.size()) request.fields.emplace_back();
      request.fields[request.field_count++].assign(value);
    }
  }
}

template <class Out>
void write_response(const Request& request, long position, Out& out) {
  char digits[24];
  out.append(std::string_view("{\"stream\":\""));
  out.append(std::string_view(request.stream));
  out.append(std::string_view("\",\"type\":\""));
  out.append(std::string_view(request.type));
  out.append(std::string_view("\",\"fields\":"));
  char* end = std::to_chars(digits, digits + sizeof digits, request.field_count).ptr;
  out.append(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  out.append(std::string_view(",\"position\":"));
  end = std::to_chars(digits, digits + sizeof digits, position).ptr;
  out.append(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  out.push_back('}');
}

}  // namespace

std::string handle_plain(std::string_view body, long position) {
  Request request;
  parse(body, request);
  std::string out;
  write_response(request, position, out);
  return out;
}

void handle_pooled(std::string_view body, long position,
                   perflab::ObjectPool<Request, perflab::ClearReset>& requests,
                   perflab::Buffer& out) {
  auto request = requests.get();
  parse(body, *request);
  write_response(*request, position, out);
}

}  // namespace demo
