// A miniature request handler, written twice: the plain way (fresh strings and
// vectors per request) and the pooled way (perflab::ObjectPool for the parsed
// request, perflab::BufferPool for the response). Same input, same output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "perflab/pool.hpp"

namespace demo {

/// A parsed "write message" request: stream name, type, and data fields.
struct Request {
  std::string stream;
  std::string type;
  std::vector<std::string> fields;  // the first field_count are this request's
  std::size_t field_count = 0;

  // Keeps the field strings themselves so a reused Request also reuses their
  // heap capacity: that is where the pooled handler saves its allocations.
  void clear() {
    stream.clear();
    type.clear();
    field_count = 0;
  }
};

/// Request bodies look like "stream=account-17;type=Deposited;amount=10;currency=EUR".
/// Returns the response text "{"stream":"...","type":"...","fields":N,"position":P}".
std::string handle_plain(std::string_view body, long position);

/// The same work with pooled objects; the response is written into `out`.
void handle_pooled(std::string_view body, long position,
                   perflab::ObjectPool<Request, perflab::ClearReset>& requests,
                   perflab::Buffer& out);

}  // namespace demo
