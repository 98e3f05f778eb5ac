// Fuzzes the load-file parser and request rendering: any bytes either give a
// load whose every request renders within its size bound, or throw LoadError.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "load/request_template.hpp"
#include "perflab/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    perflab::LoadSpec spec = perflab::parse_load_json(json, "/nonexistent");
    if (spec.url.host.empty()) spec.url = perflab::parse_http_url("http://127.0.0.1:1/");
    perflab::validate_load_spec(spec);
    perflab::load_detail::Rng rng(spec.seed);
    for (const perflab::RequestSpec& request : spec.requests) {
      const perflab::load_detail::RequestRenderer renderer(request, spec);
      const auto buffer = std::make_unique<char[]>(renderer.max_size() + 1);
      const std::size_t length = renderer.render(buffer.get(), {7, 1, 0}, rng);
      if (length > renderer.max_size()) std::abort();
    }
  } catch (const nlohmann::json::exception&) {
  } catch (const perflab::LoadError&) {
  }
  return 0;
}
